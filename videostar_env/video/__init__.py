"""Video in and out: decoding, encoding, file digests, the frame store and the clip memo."""
