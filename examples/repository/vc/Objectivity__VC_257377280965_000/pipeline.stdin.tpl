@< path("VerificationCheckTools__TD_315682953002_000") >@
@< MODELNAME >@
