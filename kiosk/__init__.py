"""kiosk: the gate kiosk of a housing compound."""

__version__ = "0.1.0"
