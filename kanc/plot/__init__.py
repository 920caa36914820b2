"""Plots of a KAN's edge functions next to their int16 tables (``kanc plot``).

matplotlib is an optional extra (``pip install "kanc[plot]"``), so the modules
here import it only when a figure is drawn.
"""
