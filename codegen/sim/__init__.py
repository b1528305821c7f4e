"""TDX module simulator: TDH.SYS.RD / TDH.SYS.RDALL over the validated schema."""
