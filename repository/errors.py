"""The pipeline's named errors (the seed's ``config`` exceptions), under one base class.

Each message says what was wrong and where: a path, a KIM ID, a line.
"""


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""

    def __init__(self, message: str, *, path=None, kim_id=None, line=None):
        self.path = path
        self.kim_id = kim_id
        self.line = line
        where = []
        if kim_id:
            where.append(f"item {kim_id}")
        if path:
            where.append(f"path {path}")
        if line is not None:
            where.append(f"line {line}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)
        self.reason = message


class InvalidKIMID(PipelineError, ValueError):
    """Text that is not a KIM ID of the required form."""


class PipelineResultsError(PipelineError):
    """A run's results are missing, unparsable or fail validation."""


class PipelineFileMissing(PipelineError):
    """A file an item or a run needs is not there."""


class PipelineTimeout(PipelineError):
    """A run went past its wall-clock limit and was killed."""


class PipelineDataMissing(PipelineError):
    """An upstream result that a template needs does not exist (yet)."""


class PipelineSearchError(PipelineError, LookupError):
    """No item (or no installed KIM API item) answers to a name or ID."""


class PipelineTemplateError(PipelineError):
    """A template is malformed, or tried to reach beyond its sandbox."""


class PipelineBuildError(PipelineError):
    """An item (runner, model, driver) could not be built from source.

    ``log`` holds what the build printed; ``error`` and ``build`` are the recorded rows, if any.
    """

    def __init__(self, message: str, *, log: str = "", error=None, build=None, **where):
        super().__init__(message, **where)
        self.log = log
        self.error = error
        self.build = build


class PipelineIntegrityError(PipelineError):
    """An item's files differ from what was imported (its content hash): its code is not run."""


class PipelineResourceError(PipelineError):
    """A run reached a limit of its sandbox: memory, processes, a file's or its output's size."""


class PipelineImportError(PipelineError):
    """An item folder cannot be imported (bad metadata, folder name, symlink, dependency)."""


class PipelineEDNError(PipelineError, ValueError):
    """EDN text (or a file of it) that does not parse, or a path handed over as if it were EDN."""


class PipelineDependencyError(PipelineError):
    """The dependency graph of a test cannot be run as it stands, or a dependency is malformed."""


class DependencyCycle(PipelineDependencyError):
    """A test depends, through its upstream tests, on itself."""

    def __init__(self, cycle: list[str]):
        self.cycle = cycle
        super().__init__(f"dependency cycle: {' → '.join(cycle)}", kim_id=cycle[0])


class DependencyTooDeep(PipelineDependencyError):
    """A chain of upstream tests is longer than PIPELINE_MAX_DEPENDENCY_DEPTH."""

    def __init__(self, chain: list[str], bound: int):
        self.chain = chain
        self.bound = bound
        super().__init__(f"dependency chain deeper than {bound}: {' → '.join(chain)}",
                         kim_id=chain[0])
