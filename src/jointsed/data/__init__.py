"""Data layer: DESED annotations, label encoding, datasets and batch composition, synthesis."""
