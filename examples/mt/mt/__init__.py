"""MT: a small English-to-Japanese word translator (the Tollgate example product)."""
