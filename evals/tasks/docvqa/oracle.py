"""DocVQA through lmms-eval's `docvqa_val` task (lmms-eval 0.7.3 lmms_eval/tasks/docvqa/)."""

from evals.tasks.oracle import anls_oracle

ORACLE = anls_oracle("docvqa_val")
