"""InfographicVQA through lmms-eval's `infovqa_val` task (lmms-eval 0.7.3 lmms_eval/tasks/infovqa/)."""

from evals.tasks.oracle import anls_oracle

ORACLE = anls_oracle("infovqa_val")
