"""Trace JSON in, words out: text, Markdown and HTML explanations in Chinese and English."""
