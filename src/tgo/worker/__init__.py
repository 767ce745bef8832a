"""Background work: taskiq broker setup, the task and periodic-job registry, the worker process."""
