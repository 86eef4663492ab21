"""The site inventory: located YAML loading, schema, expansion and the hardware catalogue."""
