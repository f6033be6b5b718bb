"""Runner state: builds of items from source (and, with the queue, jobs).

The items and their results live in ``repository``; this app records how things ran.
"""

from django.db import models


class Build(models.Model):
    """One build of one item version from source (the seed's ``make()``), with its log.

    A runner (test, test driver, check) is built once per version into the pipeline's build
    area; a model or driver is built and installed into the pipeline's KIM API collection.
    """

    class Status(models.TextChoices):
        BUILDING = "building"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    kim_id = models.CharField("KIM ID", max_length=255)
    content_hash = models.CharField(max_length=64, blank=True,
                                    help_text="Hash of the sources built; a change means a rebuild.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILDING)
    log = models.TextField(blank=True)
    owner = models.CharField(max_length=200, blank=True,
                             help_text="host:pid of the process building it; a dead owner's "
                                       "'building' row is cleaned up at worker start.")
    artifact = models.CharField(max_length=1024, blank=True,
                                help_text="Built executable, or the collection it was installed in.")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One build record per item version: "built once per version, not again unless asked".
            models.UniqueConstraint(fields=["kim_id"], name="runner_build_unique_item"),
        ]

    def __str__(self) -> str:
        return f"build of {self.kim_id}: {self.status}"


class JobQuerySet(models.QuerySet):
    def active(self):
        """Jobs that still hold their pair: at most one per pair and versions (the constraint)."""
        return self.filter(state__in=Job.ACTIVE_STATES)

    def for_pair(self, runner_kim_id: str, subject_kim_id: str):
        return self.filter(runner_kim_id=runner_kim_id, subject_kim_id=subject_kim_id)

    def next_up(self):
        """Queued jobs in the order a worker should take them: priority, then age."""
        return self.filter(state=Job.State.QUEUED).order_by("priority", "created_at", "pk")


class Job(models.Model):
    """One (runner, subject) pair at exact versions that the pipeline must run.

    The Job rows are the truth; django-q2 only delivers job ids to workers. A worker claims a
    job with a conditional UPDATE and holds a lease until ``lease_expires_at``; a dead worker's
    job is found by its expired lease and queued again.
    """

    class State(models.TextChoices):
        WAITING = "waiting", "waiting for upstream results"
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Priority(models.IntegerChoices):
        # The 2012 factors (0, 0.01, 0.1, 1, 10, 100) kept only as their order: lower runs first.
        IMMEDIATE = 0, "immediate"
        VERY_HIGH = 1, "very high"
        HIGH = 2, "high"
        NORMAL = 3, "normal"
        LOW = 4, "low"
        VERY_LOW = 5, "very low"

    ACTIVE_STATES = (State.WAITING, State.QUEUED, State.RUNNING)

    runner_kim_id = models.CharField("runner", max_length=255,
                                     help_text="The test or verification check (full KIM ID).")
    subject_kim_id = models.CharField("subject", max_length=255,
                                      help_text="The model it runs on (full KIM ID).")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    reason = models.CharField(max_length=200, blank=True,
                              help_text="Why it was submitted: new test, upstream changed, curator …")
    force = models.BooleanField(default=False,
                                help_text="Run even though a current result exists (a driver changed, a re-run).")
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    task_timeout = models.PositiveIntegerField(
        null=True, blank=True, editable=False,
        help_text="Seconds django-q2 allows a delivery of this job (runner.dispatch.task_timeout), "
                  "set when it is dispatched. A delivery takes only jobs whose task timeout fits "
                  "in its own; empty (never dispatched): only the job's own delivery takes it.")
    lease_owner = models.CharField(max_length=200, blank=True, editable=False,
                                   help_text="host:pid:token of the worker holding the job.")
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    blocked_on = models.JSONField(default=list, blank=True, editable=False,
                                  help_text="Upstream runners (full KIM IDs) whose results on the same "
                                            "subject this job waits for.")
    outcome_kim_id = models.CharField("outcome", max_length=64, blank=True, editable=False,
                                      help_text="The TR, VR or ER the run left.")
    last_error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, editable=False,
                                       help_text="Last time a task was handed to the broker.")
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["priority", "created_at"]
        constraints = [
            # Never two live jobs for one pair and versions: two directors (or a director and the
            # reconcile pass) racing get an IntegrityError instead of a duplicate run.
            models.UniqueConstraint(
                fields=["runner_kim_id", "subject_kim_id"],
                condition=models.Q(state__in=["waiting", "queued", "running"]),
                name="runner_job_one_active_per_pair",
            ),
        ]
        indexes = [
            # next_up(): queued jobs by priority and age; pipelinestatus counts by state.
            models.Index(fields=["state", "priority", "created_at"], name="runner_job_next_up"),
            # releasing dependents: the waiting jobs of one subject.
            models.Index(fields=["subject_kim_id", "state"], name="runner_job_subject_state"),
            # reconcile: running jobs whose lease has expired.
            models.Index(fields=["state", "lease_expires_at"], name="runner_job_lease"),
            # the admin's and pipelinestatus' newest-first lists of jobs (ORDER BY created_at).
            models.Index(fields=["created_at"], name="runner_job_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.runner_kim_id} × {self.subject_kim_id} ({self.state})"


class PublicationQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(state=Publication.State.PENDING)

    def of_node(self, node: str):
        return self.filter(node=node)


class Publication(models.Model):
    """One outcome folder (TR, VR, ER) on its way to the remote repository (docs/SYNC.md).

    Made before the first push and marked published once the folder's marker is on the
    remote; until then ``sync push`` and the periodic sync task try again. One row per
    outcome KIM ID (the constraint): a result is never pushed under a second ID.
    """

    class State(models.TextChoices):
        PENDING = "pending", "not yet published"
        PUBLISHED = "published"

    class Area(models.TextChoices):
        REAL_WRITE = "real-write"
        TEMP_WRITE = "temp-write"

    outcome_kim_id = models.CharField("outcome", max_length=64,
                                      help_text="The TR, VR or ER folder pushed (full KIM ID).")
    area = models.CharField(max_length=10, choices=Area.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    node = models.CharField(max_length=200, blank=True,
                            help_text="The worker node whose local repository holds the folder.")
    root = models.CharField(max_length=1024, blank=True,
                            help_text="That node's KIM_REPOSITORY_DIR when the outcome was kept.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    pushed_at = models.DateTimeField(null=True, blank=True)

    objects = PublicationQuerySet.as_manager()

    class Meta:
        constraints = [
            # One row per outcome: a retried push updates it, never adds a second one.
            models.UniqueConstraint(fields=["outcome_kim_id"], name="runner_publication_unique_outcome"),
        ]
        indexes = [
            # sync push / sync status / pipelinestatus: what still waits, per node.
            models.Index(fields=["state", "node"], name="runner_publication_waiting"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome_kim_id} → {self.area} ({self.state})"
