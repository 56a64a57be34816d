"""Risk detection: the rules, the sentence model over the encoder, its fitting, and its written training data."""
