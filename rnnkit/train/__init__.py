"""rnnkit.train"""
