"""Pipeline services: every write to jobs, events and assets goes through these functions."""

from .assets import (  # noqa: F401
    asset_delete,
    asset_meta_create,
    asset_meta_delete,
    asset_meta_update,
    asset_output_store,
    asset_outputs_discard,
    asset_record,
    asset_upload,
)
from .jobs import (  # noqa: F401
    JobAborted,
    job_cancel,
    job_claim,
    job_complete_by_client,
    job_create,
    job_event_append,
    job_finish,
    job_inputs_check,
    job_lease_renew,
    job_progress,
    job_provider_job_set,
    job_reap_expired,
    job_stage,
    job_status_set_by_client,
    job_start,
    job_transition,
    job_transitions_for_client,
)
