"""What a notebook's kernel and the runner that started it agree on."""

# The mimetype of the summary output that carries the run's record (findings, status).
RECORD_MIMETYPE = "application/vnd.hopngo.record+json"
# Set by the runner for the kernels it starts: no one is there to click a button.
HEADLESS_ENV = "HOPNGO_HEADLESS"
# The incident id the runner allocated itself because none was given: a record folder, not an
# incident someone declared (a production profile's actions require a declared one).
ALLOCATED_INCIDENT_ENV = "HOPNGO_ALLOCATED_INCIDENT"
