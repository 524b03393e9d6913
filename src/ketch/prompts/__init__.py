"""Prompt templates, as package data (read with importlib.resources).
"""
