"""Composition of Experts: switching time vs the SN40L paper, the LRU cache, the stream, the CLI."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from accelerators.catalog import load_device
from accelerators.errors import ConfigError
from moearch.cli.main import cli
from archmodel.coe import (HOST_LINKS_PAPER, che_hit_rate, expert_bytes, route_requests, simulate_coe, simulate_lru,
                           switch_path, switch_time)
from archmodel.routing import Routing, expert_popularity
from archmodel.workloads import load_workload

LLAMA_7B_BYTES = 6_738_415_616 * 2  # published 6.74B parameters (norms included), bf16


@pytest.fixture(scope="module")
def llama():
    return load_workload("llama-2-7b")


@pytest.fixture(scope="module")
def devices():
    return {name: load_device(name) for name in ("sn40l-node", "a100-sxm-80g", "h100-sxm")}


# ---- switching time -----------------------------------------------------------------------------------
def test_switch_time_is_bytes_over_bandwidth_exactly(llama, devices):
    assert expert_bytes(llama) == LLAMA_7B_BYTES
    # SN40L node: 8 sockets each copy their 1/8 from their own DDR at 125 GB/s.
    assert switch_time(llama, devices["sn40l-node"], 8) == LLAMA_7B_BYTES / (8 * 125e9)
    # GPU systems, the paper's accounting: one PCIe x16 link (Gen4 32 GB/s, Gen5 64 GB/s).
    assert switch_time(llama, devices["a100-sxm-80g"], 8) == LLAMA_7B_BYTES / 32e9
    assert switch_time(llama, devices["h100-sxm"], 8) == LLAMA_7B_BYTES / 64e9
    assert switch_time(llama, devices["sn40l-node"], 8) == pytest.approx(13.48e-3, rel=1e-3)


def test_paper_switching_speedups_31x_over_dgx_a100_and_15_16x_over_dgx_h100(llama, devices):
    """Prabhakar et al., MICRO 2024: model switching on an 8-socket SN40L node is 31x faster than
    on a DGX A100 and 15-16x faster than on a DGX H100."""
    rdu = switch_time(llama, devices["sn40l-node"], 8)
    a100 = switch_time(llama, devices["a100-sxm-80g"], 8, host_links=HOST_LINKS_PAPER) / rdu
    h100 = switch_time(llama, devices["h100-sxm"], 8, host_links=HOST_LINKS_PAPER) / rdu
    assert round(a100) == 31 and a100 == pytest.approx(1e12 / 32e9)
    assert 15 <= h100 <= 16 and h100 == pytest.approx(1e12 / 64e9)
    # Counting eight host links in parallel contradicts the published ratios (3.9x and 1.95x).
    a100_8 = switch_time(llama, devices["a100-sxm-80g"], 8, host_links=8) / rdu
    h100_8 = switch_time(llama, devices["h100-sxm"], 8, host_links=8) / rdu
    assert a100_8 == pytest.approx(3.90625) and h100_8 == pytest.approx(1.953125)


def test_switch_paths_and_their_errors(devices):
    node = switch_path(devices["sn40l-node"], 8)
    assert (node.source, node.links, node.bandwidth) == ("ddr", 8, 1e12)
    one_socket = switch_path(load_device("sn40l"), 1)
    assert one_socket.bandwidth == 125e9
    gpu = switch_path(devices["a100-sxm-80g"], 8, host_links=2)
    assert (gpu.source, gpu.links, gpu.bandwidth) == ("host", 2, 64e9)
    with pytest.raises(ConfigError, match="host-links"):
        switch_path(devices["a100-sxm-80g"], 8, host_links=9)
    with pytest.raises(ConfigError, match="devices"):
        switch_path(devices["h100-sxm"], 0)


# ---- the LRU cache ------------------------------------------------------------------------------------
def test_batch_groups_requests_per_expert_and_lru_evicts_the_oldest():
    # Batches [0, 0, 1] and [0, 2, 2]; two slots. Runs: 0 (2 requests, miss), 1 (miss), 0 (hit),
    # 2 (miss, evicts 1, the least recently used).
    trace = simulate_lru(np.array([0, 0, 1, 0, 2, 2]), batch=3, slots=2)
    assert trace.run_expert.tolist() == [0, 1, 0, 2]
    assert trace.run_size.tolist() == [2, 1, 1, 2]
    assert trace.run_miss.tolist() == [True, True, False, True]
    assert trace.run_batch.tolist() == [0, 0, 1, 1]
    # ... and an access to 1 now misses again while 0 still hits.
    again = simulate_lru(np.array([0, 0, 1, 0, 2, 2, 0, 1]), batch=3, slots=2)
    assert again.run_miss.tolist()[-2:] == [False, True]


def test_fewer_experts_than_slots_hit_always_after_warm_up():
    k, slots = 5, 8
    stream = np.tile(np.arange(k), 200)
    trace = simulate_lru(stream, batch=1, slots=slots)
    assert trace.misses == k == trace.compulsory
    assert not trace.run_miss[k:].any()
    assert trace.hit_rate == (len(stream) - k) / len(stream)
    # One slot short of the cycle: LRU misses every access (the classic cyclic worst case).
    assert simulate_lru(stream, batch=1, slots=k - 1).hit_rate == 0.0


def test_uniform_routing_hit_rate_matches_slots_over_experts():
    experts, slots = 150, 37
    assert che_hit_rate(np.ones(experts), slots) == pytest.approx(slots / experts, rel=1e-9)
    ids = route_requests(20_000, experts, Routing(), seed=1)
    trace = simulate_lru(ids, batch=1, slots=slots)
    warm = (~trace.run_miss[2000:]).mean()
    assert warm == pytest.approx(slots / experts, abs=0.015)


def test_zipf_routing_hit_rate_matches_che_approximation():
    experts, slots = 150, 20
    routing = Routing("zipf", 1.0)
    ids = route_requests(30_000, experts, routing, seed=2)
    assert np.bincount(ids, minlength=experts)[0] > np.bincount(ids, minlength=experts)[-1]
    trace = simulate_lru(ids, batch=1, slots=slots)
    expected = che_hit_rate(expert_popularity(experts, 1, routing), slots)
    assert (~trace.run_miss[2000:]).mean() == pytest.approx(expected, abs=0.02)
    assert expected > slots / experts  # skew helps the cache


# ---- the request stream -------------------------------------------------------------------------------
def test_stream_on_the_node_by_hand(llama, devices):
    r = simulate_coe(llama, devices["sn40l-node"], experts=150, batch=8, osl=8, isl=128, requests=200, seed=3)
    # HBM of 8 x 64 GB minus the KV cache of 8 requests x 136 tokens x 512 kB/token holds 37 experts.
    kv = 8 * 136 * (32 * 2 * 4096 * 2)
    assert r.hbm_free_bytes == 8 * 64e9 - kv
    assert r.cache_slots == int((8 * 64e9 - kv) // LLAMA_7B_BYTES) == 37
    assert r.switches == r.trace.misses and r.trace.accesses == r.trace.hits + r.switches
    assert r.total_time_s == pytest.approx(r.compute_time_s + r.switches * r.switch_time_s)
    assert r.output_tokens_per_s == pytest.approx(200 * 8 / r.total_time_s)
    data = r.to_json()
    for key in ("switch_time_s", "switches", "hit_rate", "output_tokens_per_s", "total_time_s",
                "switch_time_per_request_s"):
        assert key in data
    assert data["switch_time_per_request_s"] == pytest.approx(r.switches * r.switch_time_s / 200)


def test_lru_is_a_stack_algorithm_more_hbm_never_more_switches():
    ids = route_requests(3000, 150, Routing("zipf", 0.8), seed=5)
    misses = [simulate_lru(ids, batch=4, slots=k).misses for k in range(1, 160, 7)]
    assert all(a >= b for a, b in zip(misses, misses[1:]))
    assert misses[-1] == len(set(ids.tolist()))  # everything fits: compulsory misses only


def test_same_stream_on_the_node_and_a_dgx_a100(llama, devices):
    # Same seeded stream: the DGX's 8 x 80 GB caches more experts than the node's 8 x 64 GB, so it
    # switches no more often, but each switch costs 31.25x as long.
    kw = dict(experts=150, batch=4, osl=4, isl=64, requests=120, seed=4)
    node = simulate_coe(llama, devices["sn40l-node"], **kw)
    dgx = simulate_coe(llama, devices["a100-sxm-80g"], devices=8, **kw)
    assert dgx.cache_slots > node.cache_slots
    assert 0 < dgx.switches <= node.switches
    assert dgx.switch_time_total_s / node.switch_time_total_s == pytest.approx(31.25 * dgx.switches / node.switches)
    assert dgx.total_time_s > node.total_time_s


def test_router_model_takes_hbm_and_time(llama, devices):
    plain = simulate_coe(llama, devices["sn40l-node"], experts=20, batch=4, osl=4, requests=40)
    routed = simulate_coe(llama, devices["sn40l-node"], experts=20, batch=4, osl=4, requests=40, router_model=llama)
    assert routed.router_time_s > 0 and plain.router_time_s == 0
    assert routed.hbm_free_bytes < plain.hbm_free_bytes - LLAMA_7B_BYTES + 1


def test_bad_stream_inputs_raise_config_error(llama, devices):
    with pytest.raises(ConfigError, match="experts"):
        simulate_coe(llama, devices["sn40l-node"], experts=1000, batch=4, osl=4)  # 13.5 TB > 12 TB of DDR
    with pytest.raises(ConfigError, match="batch"):
        simulate_coe(llama, devices["sn40l-node"], experts=10, batch=0, osl=4)
    with pytest.raises(ConfigError, match="batch"):
        simulate_coe(llama, load_device("sn40l"), experts=10, batch=4096, osl=4096)  # KV leaves no room


def test_cli_coe_json_and_errors():
    args = ["coe", "--expert-model", "llama-2-7b", "--experts", "150", "--device", "sn40l-node", "--concurrency", "4",
            "--osl", "4", "--requests", "40", "--seed", "1", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["switch_time_s"] == pytest.approx(LLAMA_7B_BYTES / 1e12)
    assert data["devices"] == 8 and data["switch_source"] == "ddr"
    gpu = CliRunner().invoke(cli, args[:6] + ["a100-sxm-80g", "--devices", "8"] + args[7:])
    assert gpu.exit_code == 0, gpu.output
    assert json.loads(gpu.output)["switch_time_s"] / data["switch_time_s"] == pytest.approx(31.25)
    bad = CliRunner().invoke(cli, args[:4] + ["0"] + args[5:])
    assert bad.exit_code == 2 and "experts" in bad.output
    text = CliRunner().invoke(cli, args[:-1] + ["--routing", "zipf:1.2"])
    assert text.exit_code == 0 and "switch time" in text.output


def test_cli_coe_old_batch_spelling_and_missing_concurrency():
    args = ["coe", "--expert-model", "llama-2-7b", "--experts", "150", "--device", "sn40l-node", "--osl", "4",
            "--requests", "40", "--json"]
    want = CliRunner().invoke(cli, [*args, "--concurrency", "4"])
    got = CliRunner().invoke(cli, [*args, "--batch", "4"])
    assert want.exit_code == got.exit_code == 0, got.output
    assert json.loads(got.stdout) == json.loads(want.stdout)
    assert "warning: --batch is deprecated" in got.stderr and want.stderr == ""
    missing = CliRunner().invoke(cli, args)
    assert missing.exit_code == 2 and "field '--concurrency'" in missing.output
    zero = CliRunner().invoke(cli, [*args, "--concurrency", "0"])
    assert zero.exit_code == 2 and "field '--concurrency'" in zero.output
    skew = CliRunner().invoke(cli, [*args, "--concurrency", "4", "--routing", "zipf:-1"])
    assert skew.exit_code == 2 and "field '--routing'" in skew.output
    hosts = CliRunner().invoke(cli, [*args[:6], "a100-sxm-80g", "--devices", "8", *args[7:], "--concurrency", "4",
                                     "--host-links", "9"])
    assert hosts.exit_code == 2 and "field '--host-links'" in hosts.output, hosts.output
