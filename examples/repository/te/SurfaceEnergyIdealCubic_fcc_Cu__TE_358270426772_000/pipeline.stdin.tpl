@< path("SurfaceEnergyIdealCubic__TD_656418997194_000") >@
Cu
fcc
@< MODELNAME >@
@< query({"database": "data", "query": {"meta.runner.kimcode": {"$regex": "LatticeConstantCubicEnergy_fcc_Cu__TE_[0-9]{12}"}, "meta.subject.kimcode": MODELNAME, "property-id": {"$regex": "property/structure-cubic-crystal-npt"}, "short-name.source-value": "fcc"}, "project": ["a.si-value"], "fields": {"a.si-value": 1}, "limit": 1})[0] >@
