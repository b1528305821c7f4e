"""ABI facts of the TDX module's global metadata, standard library only.

The bottom layer: the field-id codec, SEAMCALL statuses and leaves, the
TDH.SYS.RDALL list format and module releases.  The compiler, the
simulator and the generated readers' runtime all import from here, and
nothing here imports from the rest of codegen.
"""
