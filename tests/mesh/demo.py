"""`make demo-mesh`: the demo job through a real Receptor mesh, as AWX runs a job.

A controller and one execution node whose `ansible-runner` is runnerwire start on loopback;
`runnerwire transmit` writes the demo job into the controller's work submission (params
`--private-data-dir=<dir> --delete`, signed); `runnerwire process` reads `work results`
while the job runs and prints its output; the unit is released and the mesh stopped.
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mesh import REPO, RUNNERWIRE, Controller, Mesh, runnerwire_transmit  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "target/demo-mesh"), help="where the mesh and the artifacts go")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    with Mesh(out / "mesh", {"execution": "runnerwire"}) as mesh:
        print(f"mesh: controller + execution node up in {time.monotonic() - started:.1f} s ({mesh.root})", flush=True)
        ctl = Controller(mesh)
        node_pdd = mesh["execution"].work / "awx_1_demo"
        unit = ctl.submit_job("execution", runnerwire_transmit(REPO / "demo/private_data_dir", "-p", "site.yml", "--ident", "demo"), node_pdd)
        print(f"submitted work unit {unit} to node execution: ansible-runner worker --private-data-dir={node_pdd} --delete", flush=True)
        try:
            sock, results = ctl.results(unit, timeout=120)
            proc = subprocess.Popen([str(RUNNERWIRE), "process", str(out / "output"), "--ident", "demo"], stdin=subprocess.PIPE)
            while chunk := results.read1(1 << 16):
                proc.stdin.write(chunk)
            proc.stdin.close()
            rc = proc.wait(60)
            results.close()
            sock.close()
            state = ctl.wait_done(unit, 60)
        finally:
            print(f"\nwork release: {ctl.release(unit)}")
    artifacts = out / "output/artifacts/demo"
    events = len(list((artifacts / "job_events").iterdir()))
    print(f"unit state {state['StateName']} ({state.get('Detail')}); process exit {rc}")
    print(f"artifacts: {artifacts} ({events} job events, status {(artifacts / 'status').read_text()})")
    print(f"private data dir on the node removed: {not node_pdd.exists()}; mesh stopped, processes left: {len(mesh.left_at_stop)}")
    return 0 if state["StateName"] == "Succeeded" and rc == 0 and not mesh.left_at_stop else 1


if __name__ == "__main__":
    sys.exit(main())
