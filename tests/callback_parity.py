#!/usr/bin/env python3
"""Parity check: runnerwire_display vs ansible-runner's awx_display.

Runs ansible-playbook / ansible under a pty twice per case (upstream's plugin, then ours),
turns both outputs into job events the way ansible-runner does (OutputEventFilter, then the
partial-file merge for upstream; the marker dict for ours), normalizes what differs between
any two runs (uuids, times, pids) and compares. Exit status 0 only if every case matches.

    /work/main/.venv/bin/python tests/callback_parity.py [--keep DIR] [case[:variant] ...]

--venv picks the ansible-core to run (e.g. a venv with 2.16 or 2.18; upstream's plugin still
comes from the repo's .venv), --baseline compares upstream's plugin with itself (run-to-run
noise), --plugin checks another copy of our plugin.

Our plugin is copied into a temporary directory on its own: ANSIBLE_CALLBACK_PLUGINS makes
ansible import every *.py in that directory, and this script is not a plugin (pointing
ANSIBLE_CALLBACK_PLUGINS at this source directory adds a "[WARNING]: Skipping plugin" event).
"""
import argparse
import base64
import errno
import fcntl
import importlib.util
import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PLUGIN = os.path.join(REPO, 'host', 'src', 'worker', 'callback', 'runnerwire_display.py')

EVENT_DATA_RE = re.compile(r'\x1b\[K((?:[A-Za-z0-9+/=]+\x1b\[\d+D)+)\x1b\[K')
UUID_RE = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')
# Command timings as they appear in -v display text.
TEXT_TIMING_RE = re.compile(r'"(delta|start|end)": "[^"]*"')
# Async job ids (j<random>.<pid>) and the paths made from them.
JID_RE = re.compile(r'\bj\d+\.\d+\b')
# Per-task temporary directories (ansible-tmp-<time>-<pid>-<random>).
TMPDIR_RE = re.compile(r'ansible-tmp-[\d.]+-\d+-\d+')


def load_record_module():
    spec = importlib.util.spec_from_file_location('record', os.path.join(REPO, 'fixtures', 'record.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EVENTS_PLAYBOOK = """\
- name: No such hosts
  hosts: nosuchgroup
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: never

- name: Odd events
  hosts: localhost
  gather_facts: false
  vars:
    a_date: 2024-02-29
    vaulted: !vault |
      $ANSIBLE_VAULT;1.1;AES256
      35646162396234373239396430666535373837303163336133653662383933623430343330616662
      3932353063656663613565636565623639333533306438650a373963626562313036343830386530
      65636262346438613063323834323631663662343935323939386662326335326434396531333465
      3634656638616465340a643962643363643637373761663131396363663439373932353935613665
      3434
  tasks:
    - name: Values the event encoder handles (a YAML date, a vaulted string)
      ansible.builtin.set_stats:
        data:
          when: "{{ a_date }}"
          raw_date: 2024-02-29
          raw_vault: !vault |
            $ANSIBLE_VAULT;1.1;AES256
            35646162396234373239396430666535373837303163336133653662383933623430343330616662
            3932353063656663613565636565623639333533306438650a373963626562313036343830386530
            65636262346438613063323834323631663662343935323939386662326335326434396531333465
            3634656638616465340a643962643363643637373761663131396363663439373932353935613665
            3434
    - name: Show them
      ansible.builtin.debug:
        msg:
          date: "{{ a_date }}"
          secret: "{{ vaulted }}"
    - name: Loop with a censored item
      ansible.builtin.debug:
        msg: "item {{ item }}"
      loop: [1, 2]
      no_log: "{{ item == 2 }}"
    - name: Templated conditional
      ansible.builtin.debug:
        msg: templated
      when: "{{ true }}"
    - name: Async job
      ansible.builtin.command: sleep 1
      async: 10
      poll: 1
      changed_when: false
    - name: Diff
      ansible.builtin.copy:
        content: "diffed\\n"
        dest: "{{ diff_dest }}"
      diff: true
    - name: Custom stats
      ansible.builtin.set_stats:
        data:
          answer: 42
    - name: Retry then give up
      ansible.builtin.command: echo retry
      register: r
      until: r.rc == 1
      retries: 1
      delay: 0
      changed_when: false
      ignore_errors: true
    - name: Rescued
      block:
        - ansible.builtin.fail:
            msg: in block
      rescue:
        - ansible.builtin.debug:
            msg: rescued
    - name: Loop item failure
      ansible.builtin.command: "{{ item }}"
      loop: ["/bin/true", "/bin/false"]
      ignore_errors: true
      changed_when: false

- name: With a role
  hosts: localhost
  gather_facts: false
  roles:
    - myrole

- name: Unreachable
  hosts: unreach
  gather_facts: false
  tasks:
    - ansible.builtin.ping:
      ignore_unreachable: true

- name: Include of a missing file (fails every host, which ends the playbook)
  hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_tasks: missing.yml
"""

SERIAL_PLAYBOOK = """\
- name: One host at a time
  hosts: all
  serial: 1
  gather_facts: false
  tasks:
    - name: Per batch
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }}"
"""

FREE_PLAYBOOK = """\
- name: Free strategy
  hosts: all
  strategy: free
  gather_facts: false
  tasks:
    - name: First
      ansible.builtin.debug:
        msg: "first {{ inventory_hostname }}"
    - name: Second
      ansible.builtin.command: echo second
      changed_when: false
"""

PROMPT_PLAYBOOK = """\
- name: Prompting
  hosts: localhost
  gather_facts: false
  vars_prompt:
    - name: secret
      prompt: Say something
      private: true
  tasks:
    - name: Use it
      ansible.builtin.debug:
        msg: "length {{ secret | length }}"
"""

ROLE_TASKS = """\
- name: Role task
  ansible.builtin.debug:
    msg: from the role
"""


def build_cases(rec):
    """case -> (project files, inventory, arguments after the binary, binary, compare mode).
    `rec` is fixtures/record.py, whose playbooks recorded upstream's fixtures."""
    inventory_events = rec.INVENTORY_LOCAL + (
        "[unreach]\n"
        "deadhost ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1 ansible_user=nobody\n"
    )

    return {
        'simple': ({'site.yml': rec.SIMPLE_PLAYBOOK}, rec.INVENTORY_LOCAL, ['site.yml'], 'ansible-playbook', 'strict'),
        'multi': ({'site.yml': rec.MULTI_PLAYBOOK, 'included.yml': rec.INCLUDED_TASKS}, rec.INVENTORY_MULTI,
                  ['site.yml', '--limit', 'all', '--forks', '1', '-v', '-e', 'from_cmdline=yes'],
                  'ansible-playbook', 'strict'),
        'multi-forks2': ({'site.yml': rec.MULTI_PLAYBOOK, 'included.yml': rec.INCLUDED_TASKS}, rec.INVENTORY_MULTI,
                         ['site.yml', '--limit', 'all', '--forks', '2', '-v', '-e', 'from_cmdline=yes'],
                         'ansible-playbook', 'per-host'),
        'failing': ({'site.yml': rec.FAILING_PLAYBOOK}, rec.INVENTORY_LOCAL, ['site.yml'], 'ansible-playbook', 'strict'),
        'adhoc': ({}, rec.INVENTORY_LOCAL, ['localhost', '-m', 'command', '-a', 'echo hi'], 'ansible', 'strict'),
        'events': ({'site.yml': EVENTS_PLAYBOOK, 'roles/myrole/tasks/main.yml': ROLE_TASKS}, inventory_events,
                   ['site.yml', '-vv', '--forks', '1', '-e', 'diff_dest={workdir}/diffed.txt'],
                   'ansible-playbook', 'strict'),
        'serial': ({'site.yml': SERIAL_PLAYBOOK}, rec.INVENTORY_MULTI, ['site.yml'], 'ansible-playbook', 'strict'),
        'free': ({'site.yml': FREE_PLAYBOOK}, rec.INVENTORY_MULTI, ['site.yml', '--forks', '1'],
                 'ansible-playbook', 'per-host'),
        'prompt': ({'site.yml': PROMPT_PLAYBOOK}, rec.INVENTORY_LOCAL, ['site.yml'], 'ansible-playbook', 'strict'),
    }


# (text to wait for, what to type then): answers vars_prompt. Typing earlier doesn't work:
# ansible flushes pending input when it puts the terminal in raw mode.
STDIN = {'prompt': ('Say something', b'hunter2\r')}

# variant -> extra environment
VARIANTS = {
    'default': {},
    'omit': {'RUNNER_OMIT_EVENTS': 'True'},
    'only-failed': {'RUNNER_ONLY_FAILED_EVENTS': 'True'},
    'color': {'ANSIBLE_NOCOLOR': None, 'ANSIBLE_FORCE_COLOR': '1'},
    'ids': {'JOB_ID': '42', 'MAX_EVENT_RES': '300'},
}

DEFAULT_PLAN = [
    ('simple', 'default'), ('simple', 'omit'), ('simple', 'only-failed'), ('simple', 'color'), ('simple', 'ids'),
    ('multi', 'default'), ('multi', 'omit'), ('multi', 'only-failed'), ('multi-forks2', 'default'),
    ('failing', 'default'), ('failing', 'omit'), ('failing', 'only-failed'),
    ('adhoc', 'default'), ('adhoc', 'omit'), ('adhoc', 'only-failed'),
    ('events', 'default'), ('events', 'omit'), ('events', 'only-failed'), ('events', 'color'),
    ('serial', 'default'), ('free', 'default'), ('prompt', 'default'),
]


# ----------------------------------------------------------------------------------------
# Running under a pty
# ----------------------------------------------------------------------------------------

def run_in_pty(argv, env, cwd, answer=None, timeout=300):
    """Run argv with a pty as stdin/stdout/stderr (80x24, no echo: as ansible-runner's
    pexpect.spawn(echo=False)); return its exit status and output. `answer` is
    (text to wait for, bytes to type)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~(termios.ECHO | termios.ECHONL)
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                            start_new_session=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while True:
        if not select.select([master], [], [], max(0.0, deadline - time.monotonic()))[0]:
            proc.kill()  # hung (e.g. waiting for input): fail the case rather than the script
            break
        try:
            data = os.read(master, 65536)
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: the child side is closed
                raise
            break
        if not data:
            break
        chunks.append(data)
        if answer and answer[0].encode() in b''.join(chunks):
            os.write(master, answer[1])
            answer = None
    os.close(master)
    return proc.wait(), b''.join(chunks).decode('utf-8', 'replace')


# ----------------------------------------------------------------------------------------
# ansible-runner's side: output -> events
# ----------------------------------------------------------------------------------------

def decode_marker(b64):
    try:
        return json.loads(base64.b64decode(re.sub(r'\x1b\[\d+D', '', b64)).decode('utf-8'))
    except ValueError:
        return {}


def parse_output(text):
    """Split output as OutputEventFilter does: text after a begin marker (up to the next
    marker) is that event's stdout; text outside markers is one verbose event per line.
    Returns (marker dict or None, runner fields) pairs."""
    chunks = []
    state = {'counter': 0, 'line': 0, 'current': None}

    def emit(marker, chunk):
        state['counter'] += 1
        n_lines = chunk.count('\n')
        fields = {'counter': state['counter'], 'stdout': chunk.rstrip('\n\r'),
                  'start_line': state['line'], 'end_line': state['line'] + n_lines}
        state['line'] += n_lines
        chunks.append((marker, fields))

    def flush(buffered, next_marker):
        if state['current'] is not None:
            emit(state['current'], buffered)
        elif buffered:
            for line in buffered.splitlines(True):
                emit(None, line)
        state['current'] = next_marker if next_marker.get('uuid') else None

    pos = 0
    for match in EVENT_DATA_RE.finditer(text):
        flush(text[pos:match.start()], decode_marker(match.group(1)))
        pos = match.end()
    flush(text[pos:], {})
    return chunks


def verbose_event(fields):
    # ansible-runner also adds a fresh uuid, runner_ident and created.
    return dict({'event': 'verbose', 'uuid': None}, **fields)


def upstream_events(text, data_dir):
    """Upstream: marker {uuid} + runner fields, then the partial file merged over it."""
    events = []
    for marker, fields in parse_output(text):
        if marker is None:
            events.append(verbose_event(fields))
            continue
        event = dict(marker, **fields)
        with open(os.path.join(data_dir, 'job_events', f"{marker['uuid']}-partial.json"), encoding='utf-8') as f:
            event.update(json.load(f))
        events.append(event)
    return events


def our_events(text):
    """Ours: the marker is the whole event. Merged as the runner should: uuid + runner
    fields first, then the marker's keys (same key order as upstream's merge)."""
    events = []
    for marker, fields in parse_output(text):
        if marker is None:
            events.append(verbose_event(fields))
            continue
        event = dict({'uuid': marker['uuid']}, **fields)
        event.update(marker)
        events.append(event)
    return events


# ----------------------------------------------------------------------------------------
# Normalizing and comparing
# ----------------------------------------------------------------------------------------

STRUCTURAL_KEYS = ('playbook_uuid', 'play_uuid', 'task_uuid', 'parent_uuid')


class Normalizer:
    """Replaces run-specific values. uuids become <uuidN> by first appearance; in per-host
    mode only playbook/play/task uuids are numbered (others are <uuid>), since the order
    in which per-host events appear is not fixed."""

    def __init__(self, structural=None):
        self.ids = {}
        self.structural = structural

    def _uuid(self, match):
        raw = match.group(0)
        if self.structural is not None and raw not in self.structural:
            return '<uuid>'
        return '<uuid%d>' % self.ids.setdefault(raw, len(self.ids))

    def event(self, event):
        return self._dict(event, top=True)

    def _dict(self, d, top=False, in_res=False):
        return {k: self._field(k, v, top, in_res) for k, v in d.items()}

    def _field(self, key, value, top, in_res):
        if in_res and key in ('delta', 'start', 'end') and isinstance(value, str):
            return '<time>'
        if in_res and key == '_original_basename':  # copy's temporary file for `content`
            return '<x>'
        if not in_res and key in ('created', 'start', 'end') and value is not None:
            return '<time>'
        if not in_res and key == 'duration' and value is not None:
            return '<duration>'
        if not in_res and key == 'pid':
            return '<pid>'
        if top and key == 'stdout' and isinstance(value, str):
            value = TEXT_TIMING_RE.sub(r'"\1": "<time>"', value)
            # Older cores print the stdout callback's own name at -vv ("Skipping callback
            # 'awx_display', as we already have a stdout callback."); that name differs by design.
            value = value.replace('runnerwire_display', 'awx_display')
        return self._value(value, in_res or key == 'res')

    def _value(self, value, in_res):
        if isinstance(value, dict):
            return self._dict(value, in_res=in_res)
        if isinstance(value, list):
            return [self._value(v, in_res) for v in value]
        if isinstance(value, str):
            value = TMPDIR_RE.sub('ansible-tmp-<x>', UUID_RE.sub(self._uuid, value))
            return JID_RE.sub('<jid>', value)
        return value


def canon(value):
    # Key order matters (ansible-runner writes events in insertion order): compare text.
    return json.dumps(value, ensure_ascii=False)


def structural_uuids(events):
    found = set()
    for event in events:
        for source in (event, event.get('event_data') or {}):
            for key in STRUCTURAL_KEYS:
                if isinstance(source.get(key), str):
                    found.update(UUID_RE.findall(source[key]))
    return found


STATS_COUNTS = ('changed', 'dark', 'failures', 'ignored', 'ok', 'processed', 'rescued', 'skipped')


def compare_strict(ours, theirs):
    norm_ours, norm_theirs = Normalizer(), Normalizer()
    a = [canon(norm_ours.event(e)) for e in ours]
    b = [canon(norm_theirs.event(e)) for e in theirs]
    return diff_lists(a, b, 'event')


def relaxed(events):
    """Events normalized for order-insensitive comparison: no counter/line numbers, only
    playbook/play/task uuids numbered, per-host stats counts in host-name order."""
    norm = Normalizer(structural_uuids(events))
    out = []
    for event in events:
        e = norm.event(event)
        for key in ('counter', 'start_line', 'end_line'):
            e.pop(key, None)
        data = e.get('event_data') or {}
        if e.get('event') == 'playbook_on_stats':
            for key in STATS_COUNTS:
                if isinstance(data.get(key), dict):
                    data[key] = dict(sorted(data[key].items()))
        out.append((data.get('host'), canon(e)))
    return out


def compare_per_host(ours, theirs):
    """Each host's events (and those of no host) in the same order on both sides."""
    groups = {}
    for side, events in (('ours', ours), ('theirs', theirs)):
        for host, text in relaxed(events):
            groups.setdefault(host, {'ours': [], 'theirs': []})[side].append(text)
    problems = []
    for host, sides in groups.items():
        problems += diff_lists(sides['ours'], sides['theirs'], f'host {host!r} event')
    return problems


def compare_as_sets(ours, theirs):
    """The same events, in any order."""
    a = sorted(text for _, text in relaxed(ours))
    b = sorted(text for _, text in relaxed(theirs))
    return diff_lists(a, b, 'sorted event')


def diff_lists(a, b, what):
    problems = []
    if len(a) != len(b):
        problems.append(f'{what} count differs: ours {len(a)}, upstream {len(b)}')
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            problems.append(f'{what} #{i} differs:\n  ours:     {x}\n  upstream: {y}')
    if len(a) != len(b):
        extra = a[len(b):] if len(a) > len(b) else b[len(a):]
        side = 'ours' if len(a) > len(b) else 'upstream'
        for x in extra[:5]:
            problems.append(f'  extra in {side}: {x}')
    return problems


# ----------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------

def upstream_callback_dir(python):
    code = ('import os, ansible_runner.display_callback.callback as m; '
            'print(os.path.dirname(m.__file__))')
    return subprocess.run([python, '-c', code], check=True, stdout=subprocess.PIPE, text=True).stdout.strip()


def base_env(venv_bin, home):
    return {
        'PATH': f'{venv_bin}:/usr/local/bin:/usr/bin:/bin',
        'HOME': home,
        'LANG': 'C.UTF-8',
        'LC_ALL': 'C.UTF-8',
        'TZ': 'UTC',
        'PYTHONDONTWRITEBYTECODE': '1',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_HOST_KEY_CHECKING': 'False',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'RUNNER_OMIT_EVENTS': 'False',
        'RUNNER_ONLY_FAILED_EVENTS': 'False',
        'ANSIBLE_ASYNC_DIR': os.path.join(home, '.ansible_async'),
    }


def write_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)


def run_case(name, variant, ctx):
    files, inventory, args, binary, mode = ctx['cases'][name]
    work = os.path.join(ctx['tmp'], f'{name}-{variant}')
    project = os.path.join(work, 'project')
    os.makedirs(project)
    write_tree(project, files)
    inv = os.path.join(work, 'inventory')
    with open(inv, 'w') as f:
        f.write(inventory)
    argv = [os.path.join(ctx['venv_bin'], binary), '-i', inv] + [a.format(workdir=work) for a in args]

    env = base_env(ctx['venv_bin'], ctx['home'])
    for key, value in VARIANTS[variant].items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    if name == 'events':
        password_file = os.path.join(work, 'vault-password')
        with open(password_file, 'w') as f:
            f.write('pw\n')
        env['ANSIBLE_VAULT_PASSWORD_FILE'] = password_file
    if binary == 'ansible':
        # What ansible-runner sets for ad hoc jobs.
        env.update(ANSIBLE_LOAD_CALLBACK_PLUGINS='1', AD_HOC_COMMAND_ID='1')

    # The second run uses our plugin; with --baseline, upstream's again (the noise floor).
    second = ('awx_display', ctx['upstream_dir']) if ctx['baseline'] else ('runnerwire_display', ctx['our_dir'])
    outputs = {}
    for side, (callback, cb_dir) in (('theirs', ('awx_display', ctx['upstream_dir'])), ('ours', second)):
        data_dir = os.path.join(work, f'data-{side}')
        os.makedirs(data_dir)
        side_env = dict(env, ANSIBLE_STDOUT_CALLBACK=callback, ANSIBLE_CALLBACK_PLUGINS=cb_dir,
                        AWX_ISOLATED_DATA_DIR=data_dir)
        diffed = os.path.join(work, 'diffed.txt')
        if os.path.exists(diffed):
            os.remove(diffed)
        rc, text = run_in_pty(argv, side_env, project, STDIN.get(name))
        outputs[side] = (rc, text, data_dir)
        if ctx['keep']:
            with open(os.path.join(ctx['keep'], f'{name}-{variant}-{side}.out'), 'w', newline='') as f:
                f.write(text)

    rc_t, text_t, dir_t = outputs['theirs']
    rc_o, text_o, dir_o = outputs['ours']
    setup_problems = []
    if rc_t != rc_o:
        setup_problems.append(f'exit status differs: ours {rc_o}, upstream {rc_t}')
    theirs = upstream_events(text_t, dir_t)
    if ctx['baseline']:
        ours = upstream_events(text_o, dir_o)
    else:
        ours = our_events(text_o)
        if os.listdir(dir_o):
            setup_problems.append(f'our run wrote files: {os.listdir(dir_o)}')
    if ctx['keep']:
        for side, events in (('theirs', theirs), ('ours', ours)):
            with open(os.path.join(ctx['keep'], f'{name}-{variant}-{side}.events.json'), 'w') as f:
                json.dump(events, f, indent=1)

    # Callbacks run on two controller threads (results thread: runner_on_start, item events;
    # main thread: runner_on_ok/failed, ...), so events of different hosts can interleave
    # differently from run to run, even with --forks 1 (--baseline shows upstream does it
    # too). Where the strict comparison fails, say how close the runs still are.
    if mode == 'per-host':
        problems = compare_per_host(ours, theirs)
        verdict = 'IDENTICAL PER HOST'
    else:
        problems = compare_strict(ours, theirs)
        verdict = 'IDENTICAL'
        if problems and not compare_per_host(ours, theirs):
            verdict = f'IDENTICAL PER HOST (cross-host order differs at {len(problems)} places)'
            problems = []
    if problems and not compare_as_sets(ours, theirs):
        verdict = f'SAME EVENTS, ORDER DIFFERS ({len(problems)} places)'
        problems = []
    if not ctx['baseline'] and 'runnerwire_display' in text_o:
        verdict += ' (after renaming runnerwire_display to awx_display in display text)'

    problems = setup_problems + problems
    if problems:
        verdict = f'DIFFERENT ({len(problems)} problems)'
    return rc_o, len(ours), verdict, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--venv', default=os.path.join(REPO, '.venv'),
                        help='where ansible-playbook / ansible come from (any ansible-core version)')
    parser.add_argument('--upstream-callback-dir',
                        help="directory of upstream's awx_display.py (default: from the repo's .venv)")
    parser.add_argument('--plugin', default=PLUGIN, help='our plugin file (default: the one beside this script)')
    parser.add_argument('--keep', help='directory to keep raw outputs and parsed events in')
    parser.add_argument('--baseline', action='store_true',
                        help="compare upstream's plugin with itself (shows run-to-run noise)")
    parser.add_argument('cases', nargs='*', help='case or case:variant (default: the full plan)')
    opts = parser.parse_args()

    plan = []
    for spec in opts.cases or [f'{c}:{v}' for c, v in DEFAULT_PLAN]:
        case, _, variant = spec.partition(':')
        variants = [variant] if variant else [v for c, v in DEFAULT_PLAN if c == case]
        plan += [(case, v) for v in variants]

    venv_bin = os.path.join(os.path.abspath(opts.venv), 'bin')
    if opts.keep:
        os.makedirs(opts.keep, exist_ok=True)
    failures = 0
    with tempfile.TemporaryDirectory(prefix='runnerwire-parity-') as tmp:
        our_dir = os.path.join(tmp, 'callback')
        os.makedirs(our_dir)
        shutil.copy(opts.plugin, os.path.join(our_dir, 'runnerwire_display.py'))
        home = os.path.join(tmp, 'home')
        os.makedirs(home)
        ctx = {'tmp': tmp, 'venv_bin': venv_bin, 'home': home, 'our_dir': our_dir, 'keep': opts.keep,
               'baseline': opts.baseline,
               'cases': build_cases(load_record_module()),
               'upstream_dir': opts.upstream_callback_dir
               or upstream_callback_dir(os.path.join(REPO, '.venv', 'bin', 'python'))}
        for case, variant in plan:
            rc, count, verdict, problems = run_case(case, variant, ctx)
            print(f'{case:13} {variant:12} rc={rc} events={count:3}  {verdict}', flush=True)
            for problem in problems[:8]:
                print('    ' + problem.replace('\n', '\n    '))
            failures += bool(problems)
    print(f'{len(plan) - failures}/{len(plan)} match')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
