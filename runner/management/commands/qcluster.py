"""``manage.py qcluster``: django-q2's command and options, running the pipeline's cluster
(``runner.cluster``: made to survive a worker killed while it holds a lock the cluster shares)."""

import os

from django.conf import settings
from django_q.management.commands import qcluster

from runner.cluster import PipelineCluster


class Command(qcluster.Command):
    def handle(self, *args, **options):
        settings.SECRET_KEY  # noqa: B018 — signing needs it: fail before the cluster starts
        if options.get("cluster_name"):
            # The cluster's name is its broker's queue name, read when the cluster starts.
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        cluster = PipelineCluster()
        cluster.start()
        if options.get("run_once"):
            cluster.stop()
