"""Map layers: styled GeoJSON, legends and colour scales built from geo results."""
