@< path("ExampleDriverTools__TD_818771893529_000") >@
@< MODELNAME >@
