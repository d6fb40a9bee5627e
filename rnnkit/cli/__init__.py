"""rnnkit.cli"""
