"""Design-space exploration: design spaces, evaluators, agents, job store and backends.

Public API::

    from dse import load_space, run_job, resume_job, JobSettings, make_agent, make_backend

* :func:`load_space` / :class:`Space` — a YAML space (parameters with ``agent:`` groups,
  constraints, objectives); ``space.cardinalities`` is the MultiDiscrete shape of an action,
  ``space.groups`` the parameter positions of each agent group.
* :func:`evaluate_chunk` — metrics of a batch of designs through the space's domain adapter
  (``dse.evaluators``: cluster, fpga-kernel, pim, rdu-coe).
* :class:`Agent` (ask / tell / state_dict / load_state_dict), :func:`make_agent`,
  :func:`register_agent`; baselines random, exhaustive, ga, tpe, gp.
* :func:`run_job`, :func:`resume_job` — rounds of ask, evaluate, tell, checkpoint into one SQLite
  file (:class:`JobStore`); :func:`make_backend` — inline, process or Ray.
* :class:`TeamReward` — the bounded shared reward for RL agents.
"""
from .agents import AGENTS, Agent, Observation, list_agents, make_agent, register_agent
from .backends import Backend, make_backend
from .evaluation import Evaluation, evaluate_chunk
from .job import JobSettings, JobSummary, resume_job, run_job
from .reward import TeamReward
from .space import Design, Parameter, Space
from .space_file import load_space, parse_space
from .store import JobStore, Row

__all__ = ["AGENTS", "Agent", "Backend", "Design", "Evaluation", "JobSettings", "JobStore", "JobSummary",
           "Observation", "Parameter", "Row", "Space", "TeamReward", "evaluate_chunk", "list_agents", "load_space",
           "make_agent", "make_backend", "parse_space", "register_agent", "resume_job", "run_job"]
