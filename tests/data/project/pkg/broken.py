"""A step module with a syntax error on line 4."""

def broken(x):
    return x +
