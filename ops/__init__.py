"""The village enterprise's field work: staff, shifts, tasks, and the services that plan them with `routing`."""
