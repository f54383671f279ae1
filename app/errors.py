"""One family of errors. Library code raises these at module boundaries (``raise X(...) from e``);
the CLI prints ``str(err)`` on one line to stderr and exits non-zero; pages show it with ``st.error``."""


class WinnowError(Exception):
    """Base of every error Winnow reports to a user. The message is one line, meant for a person."""

    exit_code = 1


class WorkspaceError(WinnowError):
    """A workspace cannot be opened, is locked, or is not a workspace."""


class IngestError(WinnowError):
    """An input cannot be read, or is rejected (duplicate ids, --strict failures)."""


class SignalError(WinnowError):
    """A scorer failed, is unknown, or an imported signal file is unusable."""


class EmbedError(WinnowError):
    """An embedding model cannot be loaded or run."""


class MapError(WinnowError):
    """Projection, clustering, neighbours or search failed or lack their inputs."""


class RecipeError(WinnowError):
    """A recipe is malformed or refers to something that does not exist."""


class ExportError(WinnowError):
    """An export cannot be written where or how it was asked."""


class ReportError(WinnowError):
    """A report cannot be built."""


class LearnError(WinnowError):
    """A selector, label file, trained model or reference model is unusable (labels, classifiers, LMs)."""


class QueryError(WinnowError):
    """A SQL query (``winnow sql``) is malformed, refers to something missing, or tries to write."""


class EngineError(WinnowError):
    """An engine (local process pool, Ray) cannot start, or a worker failed."""


class MissingDependency(WinnowError, ImportError):
    """An optional dependency is not installed; the message names the pip package."""

    def __init__(self, package: str, purpose: str):
        super().__init__(f"{purpose} needs the optional package '{package}': pip install {package}")
        self.package = package
