"""The spec front end: schema/*.toml in, a validated Catalogue out.

toml_source  TOML documents with the source position of every key
shapes       pydantic models: the shape and types of each table
rules/       the rule registry and the checks, by concern, each reporting under a rule name
elaborate    builds the Catalogue from the checked entries (reports nothing)
model        the frozen, sorted Catalogue that emitters and the simulator see
names        every identifier the generated code defines, and the reserved words
compiler     the pipeline that runs the steps above in order
diagnostics  file:line:col messages with carets, text and JSON
"""
