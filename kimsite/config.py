"""The 2012 pipeline's constants under their 2012 names, each overridable from the environment.

Plain Python (no Django) so that a test runner process can read them too.
"""

from pathlib import Path

from kimsite.env import env_int, env_path, env_str

#: The project's checkout: the seed's ``KIM_PIPELINE_DIR`` (the folder of ``config.py``).
KIM_PIPELINE_DIR = env_path("KIM_PIPELINE_DIR", Path(__file__).resolve().parent.parent)

#: Everything the pipeline writes that is not code lives below this folder.
KIM_DIR = env_path("KIM_DIR", KIM_PIPELINE_DIR / "var")

#: The pipeline's own KIM API area: its collection of items built from source and its config.
KIM_API_DIR = env_path("KIM_API_DIR", KIM_DIR / "kim-api")

#: The on-disk repository of item folders, one subfolder per leader (``te/``, ``mo/`` …).
KIM_REPOSITORY_DIR = env_path("KIM_REPOSITORY_DIR", KIM_DIR / "repository")

#: Where logs go: ``logs/pipeline.log`` and ``logs/rsync.log`` as in 2012.
KIM_LOG_DIR = env_path("KIM_LOG_DIR", KIM_PIPELINE_DIR / "logs")

# File names of the 2012 format.
METADATA_INFO_FILE = env_str("METADATA_INFO_FILE", "metadata.json")
PIPELINE_INFO_FILE = env_str("PIPELINE_INFO_FILE", "pipelineinfo.json")
INPUT_FILE = env_str("INPUT_FILE", "pipeline.in")
OUTPUT_FILE = env_str("OUTPUT_FILE", "pipeline.out")
STDOUT_FILE = env_str("STDOUT_FILE", "pipeline.stdout")
TEMP_INPUT_FILE = env_str("TEMP_INPUT_FILE", "pipeline.in.tmp")

# File names of the 2020 format.
KIMSPEC_FILE = "kimspec.edn"
TEMPLATE_FILE = "pipeline.stdin.tpl"
DEPENDENCIES_FILE = "dependencies.edn"
RUNNER_FILE = "runner"
STDIN_FILE = "pipeline.stdin"
STDERR_FILE = "pipeline.stderr"
RESULTS_FILE = "results.edn"
PIPELINESPEC_FILE = "pipelinespec.edn"
KIM_LOG_FILE = "kim.log"
#: A runner folder holding one of these is built from source before its first run.
SOURCE_BUILD_FILES = ("CMakeLists.txt", "Makefile")

#: Wall-clock limit of one run in seconds (2012 default: 300).
RUNNER_TIMEOUT = env_int("RUNNER_TIMEOUT", 300)

# The remote that holds the shared repository (the seed's GLOBAL_* settings).
GLOBAL_IP = env_str("GLOBAL_IP", "127.0.0.1")
GLOBAL_PORT = env_int("GLOBAL_PORT", 14177)
GLOBAL_USER = env_str("GLOBAL_USER", "")
GLOBAL_HOST = env_str("GLOBAL_HOST", "")
GLOBAL_DIR = env_str("GLOBAL_DIR", "")
