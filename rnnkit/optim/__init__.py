"""rnnkit.optim"""
