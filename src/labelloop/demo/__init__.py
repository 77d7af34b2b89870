"""The bundled-data demo."""
