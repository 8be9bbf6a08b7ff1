"""Numbers from the derivation: the printed NumPy program, compiled functions, verification, training."""
