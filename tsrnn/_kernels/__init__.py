"""Numba kernels: pure numeric functions, no pandas, no scikit-learn."""
