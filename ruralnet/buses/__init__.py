"""buses"""
