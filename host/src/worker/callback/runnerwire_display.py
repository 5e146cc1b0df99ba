# runnerwire_display: stdout callback for runnerwire's worker stage.
#
# It prints exactly what ansible-runner's `awx_display` callback prints, including the
# escape-sequence markers that ansible-runner's OutputEventFilter looks for, with one
# difference: the begin marker carries the whole job event, not just its uuid, so nothing
# is written to disk (no `<uuid>-partial.json` files).
#
# Wire format, around the display text of every event:
#   begin: ESC[K  then base64(JSON event) in chunks of <= 78 chars, each chunk followed by
#          ESC[<chunk length>D,  then ESC[K
#   end:   the same framing around base64("{}"), flushed.

from __future__ import annotations

DOCUMENTATION = '''
    name: runnerwire_display
    type: stdout
    short_description: ansible-runner compatible event stream, carried inline in the display output
    version_added: "2.0"
    description:
        - Displays what the default (or ad hoc, minimal) stdout callback displays and wraps each
          event's text in ansible-runner's event markers. The begin marker holds the full event.
        - Writes no files.
    extends_documentation_fragment:
      - default_callback
    requirements:
      - Set as stdout in config
'''

import base64
import collections
import contextlib
import copy
import datetime
import functools
import inspect
import json
import os
import sys
import threading
import uuid

from ansible import __version__ as _ANSIBLE_VERSION
from ansible import constants as C
from ansible.plugins.loader import callback_loader
from ansible.utils.display import Display

try:
    from ansible.utils.multiprocessing import context as _mp
except ImportError:  # very old cores
    import multiprocessing as _mp


CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"

# ansible-runner sets AD_HOC_COMMAND_ID for `ansible` (ad hoc) jobs.
_AD_HOC = bool(os.getenv('AD_HOC_COMMAND_ID'))


def _core_version():
    return tuple(int(part) for part in _ANSIBLE_VERSION.split('.')[:2])


# Since core 2.14, worker forks proxy display calls to the controller process over a queue,
# and Display owns the lock that serialises stdout/stderr writes.
_CORE_PROXIES_DISPLAY = _core_version() >= (2, 14)


def _base_callback_name():
    # ansible-runner moves a user-chosen stdout callback into ORIGINAL_STDOUT_CALLBACK;
    # its text is what we wrap. Otherwise: what ansible-playbook / ansible would use.
    return os.getenv('ORIGINAL_STDOUT_CALLBACK') or ('minimal' if _AD_HOC else 'default')


_BaseCallback = callback_loader.get(_base_callback_name(), class_only=True)

display = Display()
_display_lock = display._lock if _CORE_PROXIES_DISPLAY else _mp.RLock()


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _env_true(name):
    # ansible-runner writes these as str(bool): "True" / "False".
    return os.getenv(name, 'False').lower() == 'true'


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------

class EventEncoder(json.JSONEncoder):
    """JSON for event values: plain json, plus the two ansible types ansible-runner knows."""

    def default(self, o):
        # Vaulted values are recognised by their YAML tag, not their class (duck typing
        # keeps this working across cores).
        if getattr(o, 'yaml_tag', None) == '!vault':
            ciphertext = o._ciphertext
            if isinstance(ciphertext, bytes):
                ciphertext = ciphertext.decode('utf-8')
            return {'__ansible_vault': ciphertext}
        if isinstance(o, datetime.date):  # also datetime.datetime
            return o.isoformat()
        return super().default(o)


_MARKER_EDGE = '\x1b[K'
_MARKER_CHUNK = 78


def encode_marker(payload):
    """The marker text for `payload`; raises (writing nothing) if it can't be encoded."""
    # json.dumps defaults (ASCII-only, NaN/Infinity allowed) keep the text identical to
    # what ansible-runner's partial files hold.
    b64 = base64.b64encode(json.dumps(payload, cls=EventEncoder).encode('utf-8')).decode('ascii')
    chunks = (b64[i:i + _MARKER_CHUNK] for i in range(0, len(b64), _MARKER_CHUNK))
    return _MARKER_EDGE + ''.join(f'{c}\x1b[{len(c)}D' for c in chunks) + _MARKER_EDGE


_END_MARKER = encode_marker({})


# --------------------------------------------------------------------------------------------
# Where we are: context that ends up in event_data
# --------------------------------------------------------------------------------------------

class EventScope:
    """Values describing the current event.

    `shared` holds playbook/play/task, set by the callback and seen by every thread.
    Each thread also has its own values: the event being emitted and Display-method flags.
    Per-thread values win; key order is shared first, then new per-thread keys, each in
    insertion order (event_data keeps that order).
    """

    def __init__(self):
        self.shared = {}
        self._tls = threading.local()

    def _own(self):
        values = getattr(self._tls, 'values', None)
        if values is None:
            values = self._tls.values = {}
        return values

    def set_shared(self, **values):
        self.shared.update(values)

    def unset_shared(self, *keys):
        for key in keys:
            self.shared.pop(key, None)

    def set_own(self, **values):
        self._own().update(values)

    def unset_own(self, *keys):
        own = self._own()
        for key in keys:
            own.pop(key, None)

    @contextlib.contextmanager
    def own(self, **values):
        try:
            self.set_own(**values)
            yield
        finally:
            self.unset_own(*values)

    def merged(self):
        values = dict(self.shared)
        values.update(self._own())
        return values


scope = EventScope()


# --------------------------------------------------------------------------------------------
# The event dict (what ansible-runner's partial file would hold)
# --------------------------------------------------------------------------------------------

# Display-method flags that name an event which has no callback event name; first wins.
_DISPLAY_EVENTS = ('debug', 'verbose', 'deprecated', 'warning', 'system_warning', 'error')
# Only these keep event_data under RUNNER_ONLY_FAILED_EVENTS. ('runner_on_item_failed' is
# ansible-runner's name, which no event has; item failures are filtered out too.)
_FAILED_EVENTS = ('runner_on_failed', 'runner_on_async_failed', 'runner_on_item_failed')
_ID_VARS = (('JOB_ID', 'job_id'), ('AD_HOC_COMMAND_ID', 'ad_hoc_command_id'),
            ('PROJECT_UPDATE_ID', 'project_update_id'))
_PARENT_KEYS = ('task_uuid', 'play_uuid', 'playbook_uuid')


def _event_name(data):
    name = data.pop('event', None)
    if name:
        return name
    return next((flag for flag in _DISPLAY_EVENTS if data.get(flag, False)), 'verbose')


def _parent_uuid(data):
    """An explicit parent_uuid, else the innermost of task/play/playbook that isn't us."""
    if data.get('parent_uuid', None):
        return data['parent_uuid']
    own_uuid = data.get('uuid', None)
    for key in _PARENT_KEYS:
        candidate = data.get(key, None)
        if candidate and candidate != own_uuid:
            return candidate
    return None


def _kept_event_data(name, data):
    """event_data after RUNNER_OMIT_EVENTS / RUNNER_ONLY_FAILED_EVENTS / MAX_EVENT_RES."""
    if _env_true('RUNNER_OMIT_EVENTS'):
        return {}
    if _env_true('RUNNER_ONLY_FAILED_EVENTS') and name not in _FAILED_EVENTS:
        return {}
    max_res = int(os.getenv('MAX_EVENT_RES', '700000'))
    if name != 'playbook_on_stats' and 'res' in data and len(str(data['res'])) > max_res:
        data['res'] = {}
    return data


def build_event(data):
    """The event for context values `data` (a copy, which this consumes). Key order matters."""
    name = _event_name(data)
    event = {'event': name}
    for var, key in _ID_VARS:
        if os.getenv(var, ''):
            event[key] = int(os.getenv(var, '0'))
    event['pid'] = data.get('pid', os.getpid())
    event['uuid'] = data.get('uuid', str(uuid.uuid4()))
    event['created'] = data.get('created', _utcnow().isoformat())
    parent = _parent_uuid(data)
    if parent:
        event['parent_uuid'] = parent
    if 'verbosity' in data:
        event['verbosity'] = data.pop('verbosity')
    event['event_data'] = _kept_event_data(name, data)
    return event


def write_begin(stream):
    # Built and encoded before anything is written: an unencodable value leaves only
    # the end marker, as ansible-runner's plugin does when its partial file fails.
    text = encode_marker(build_event(scope.merged()))
    with _display_lock:
        stream.write(text)


def write_end(stream):
    with _display_lock:
        stream.write(_END_MARKER)
        stream.flush()


# --------------------------------------------------------------------------------------------
# Display patches: give display text outside callback events its own event
# --------------------------------------------------------------------------------------------

_UNFLAGGED = frozenset(('display', 'v', 'vv', 'vvv', 'vvvv', 'vvvvv', 'vvvvvv', 'verbose'))


def _call_args(signature, args, kwargs):
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


def _flagging(flag, method):
    """While `method` runs, this thread's context has `flag: True` (e.g. warning)."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with scope.own(**{flag: True}):
            return method(*args, **kwargs)
    return wrapper


def _with_verbosity(method):
    """Display.verbose: flag the event verbose, record its level and the host it names."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        call = _call_args(signature, args, kwargs)
        values = {'verbose': True, 'verbosity': call.get('caplevel') + 1}
        if call.get('host') is not None:
            values['remote_addr'] = call['host']
        with scope.own(**values):
            return method(*args, **kwargs)
    return wrapper


def _own_event_unless_inside_one(method):
    """Display.display: text outside a callback event becomes an event of its own."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        if _CORE_PROXIES_DISPLAY and _mp.parent_process() is not None:
            # In a worker fork: the call is proxied to the controller, which marks it.
            return method(*args, **kwargs)
        call = _call_args(signature, args, kwargs)
        inside_event = scope.merged().get('uuid', None)
        with _display_lock:
            if call.get('log_only') or inside_event:
                return method(*args, **kwargs)
            stream = sys.stderr if call.get('stderr') else sys.stdout
            try:
                scope.set_own(uuid=str(uuid.uuid4()))
                write_begin(stream)
                return method(*args, **kwargs)
            finally:
                write_end(stream)
                scope.unset_own('uuid')
    return wrapper


def _patch_display():
    # Display is a process-wide singleton class: patch it once even if loaded twice.
    if getattr(Display, '_runnerwire_patched', False):
        return
    Display._runnerwire_patched = True
    # Every public method (warning, deprecated, error, banner, ...) flags the context with
    # its own name; some of those names pick the event name, all land in event_data.
    for name in dir(Display):
        if name.startswith('_') or 'cow' in name or 'prompt' in name or name in _UNFLAGGED:
            continue
        method = getattr(Display, name)
        if callable(method):
            setattr(Display, name, _flagging(name, method))
    Display.verbose = _with_verbosity(Display.verbose)
    Display.display = _own_event_unless_inside_one(Display.display)


_patch_display()


# --------------------------------------------------------------------------------------------
# Helpers for the callback
# --------------------------------------------------------------------------------------------

_TASK_KEYS = ('task', 'task_path', 'task_uuid', 'task_action', 'task_args', 'resolved_action',
              'role', 'resolved_role')
_PLAY_KEYS = ('play', 'play_uuid', 'play_pattern')


def _censor_res(res):
    """Hide no_log results. Loop items are censored in place in the result's own (copied)
    results list, so the display text shows them censored too, as with ansible-runner."""
    if res.get('_ansible_no_log', False):
        res = {'censored': CENSORED}
    if res.get('results', []):
        res['results'] = copy.copy(res['results'])
    for index, item in enumerate(res.get('results', [])):
        if isinstance(item, dict) and item.get('_ansible_no_log', False):
            res['results'][index] = {'censored': CENSORED}
    return res


def _play_pattern(play):
    if not hasattr(play, 'hosts'):
        return ''
    return ','.join(play.hosts) if isinstance(play.hosts, list) else play.hosts


def _play_name(play):
    return play.get_name().strip() or _play_pattern(play)


def _task_context(task):
    values = {
        'task': task.name or task.action,
        'task_uuid': str(task._uuid),
        'task_action': task.action,
        'resolved_action': getattr(task, 'resolved_action', task.action),
        'task_args': '',
    }
    try:
        values['task_path'] = task.get_path()
    except AttributeError:
        pass
    if C.DISPLAY_ARGS_TO_STDOUT:
        values['task_args'] = CENSORED if task.no_log else ', '.join(f'{k}={v}' for k, v in task.args.items())
    values.update(_role_context(task))
    return values


def _role_context(task):
    role = getattr(task, '_role', None)
    values = {}
    if role:
        role_name = role._role_name
        # get_name() may be the collection-qualified name
        resolved = role.get_name() if hasattr(role, 'get_name') else role_name
        if resolved != role_name:
            values['resolved_role'] = resolved
    else:
        role_name = getattr(task, 'role_name', '')
    if role_name:
        values['role'] = role_name
    return values


def _event_loop(task):
    if hasattr(task, 'loop_with'):
        return task.loop_with
    return getattr(task, 'loop', None)


class _RepeatNamer:
    """Tells repeated plays/tasks apart (free strategy, serial): 2nd time `<uuid>_2`, ..."""

    def __init__(self):
        self._seen = set()
        self._counts = collections.defaultdict(lambda: 1)

    def name(self, raw):
        if raw in self._seen:
            self._counts[raw] += 1
            raw = f'{raw}_{self._counts[raw]}'
        self._seen.add(raw)
        return raw


# --------------------------------------------------------------------------------------------
# The callback
# --------------------------------------------------------------------------------------------

class CallbackModule(_BaseCallback):
    """Emits ansible-runner job events around the base stdout callback's display text."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'runnerwire_display'

    _EVENTS_WITHOUT_PLAY = ('playbook_on_start', 'playbook_on_stats')
    # For these, a `task` argument is event data, not the task the event belongs to.
    _EVENTS_WITHOUT_TASK = _EVENTS_WITHOUT_PLAY + (
        'playbook_on_setup', 'playbook_on_notify', 'playbook_on_import_for_host',
        'playbook_on_not_import_for_host', 'playbook_on_no_hosts_matched',
        'playbook_on_no_hosts_remaining',
    )

    def __init__(self):
        super().__init__()
        self._rw_host_start = {}
        self._rw_tasks = _RepeatNamer()
        self._rw_plays = _RepeatNamer()
        # ansible has no uuid for the playbook; make one.
        self._rw_playbook_uuid = str(uuid.uuid4())

    def set_options(self, *args, **kwargs):
        # Accept the base callback's options (result_format, ...) as our own.
        base = C.config.get_configuration_definition(_BaseCallback._load_name, plugin_type='callback')
        mine = C.config.get_configuration_definition(self._load_name, plugin_type='callback')
        C.config.initialize_plugin_configuration_definitions('callback', self._load_name, base | mine)
        return super().set_options(*args, **kwargs)

    # ---- context -------------------------------------------------------------------------

    def _enter_playbook(self, playbook):
        scope.set_shared(playbook=getattr(playbook, '_file_name', '???'),
                         playbook_uuid=self._rw_playbook_uuid)
        self._leave_play()

    def _enter_play(self, play):
        scope.set_shared(play=_play_name(play), play_uuid=str(play._uuid), play_pattern=_play_pattern(play))
        self._leave_task()

    def _leave_play(self):
        scope.unset_shared(*_PLAY_KEYS)
        self._leave_task()

    def _enter_task(self, task, own=False):
        self._leave_task(own)
        if own:
            scope.set_own(**_task_context(task))
        else:
            scope.set_shared(**_task_context(task))

    def _leave_task(self, own=False):
        if own:
            scope.unset_own(*_TASK_KEYS)
        else:
            scope.unset_shared(*_TASK_KEYS)

    @contextlib.contextmanager
    def _event(self, event_name, /, **data):
        """Emit an event: begin marker, the base callback's text (the body), end marker."""
        data.setdefault('uuid', str(uuid.uuid4()))
        task = data.pop('task', None) if event_name not in self._EVENTS_WITHOUT_TASK else None
        if data.get('res'):
            data['res'] = _censor_res(data['res'])
        with _display_lock:
            try:
                scope.set_own(event=event_name, **data)
                if task:
                    self._enter_task(task, own=True)
                write_begin(sys.stdout)
                yield
            finally:
                write_end(sys.stdout)
                if task:
                    self._leave_task(own=True)
                scope.unset_own('event', *data)

    def _timing(self, result):
        """(start, end, seconds) since runner_on_start for the result's host, or Nones."""
        start = self._rw_host_start.get(result._host.get_name())
        if not start:
            return None, None, None
        end = _utcnow()
        return start, end, (end - start).total_seconds()

    def _host_result(self, result):
        return {'host': result._host.get_name(), 'task': result._task, 'res': result._result}

    def _async_result(self, result):
        return dict(self._host_result(result), jid=result._result.get('ansible_job_id'))

    # ---- playbook events -----------------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        self._enter_playbook(playbook)
        with self._event('playbook_on_start', uuid=self._rw_playbook_uuid):
            super().v2_playbook_on_start(playbook)

    def v2_playbook_on_vars_prompt(self, varname, private=True, prompt=None, encrypt=None, confirm=False,
                                   salt_size=None, salt=None, default=None, unsafe=None):
        with self._event('playbook_on_vars_prompt', varname=varname, private=private, prompt=prompt,
                         encrypt=encrypt, confirm=confirm, salt_size=salt_size, salt=salt,
                         default=default, unsafe=unsafe):
            super().v2_playbook_on_vars_prompt(varname, private, prompt, encrypt, confirm, salt_size, salt, default)

    def v2_playbook_on_include(self, included_file):
        filename = included_file._filename if included_file is not None else None
        with self._event('playbook_on_include', included_file=filename):
            super().v2_playbook_on_include(included_file)

    def v2_playbook_on_play_start(self, play):
        if _AD_HOC:
            return  # ad hoc jobs have no play events (and no play banner)
        play._uuid = self._rw_plays.name(str(play._uuid))
        self._enter_play(play)
        with self._event('playbook_on_play_start', name=_play_name(play), pattern=_play_pattern(play),
                         uuid=str(play._uuid)):
            super().v2_playbook_on_play_start(play)

    def v2_playbook_on_task_start(self, task, is_conditional):
        if _AD_HOC:
            self._enter_task(task)  # context for the result events; no task event
            return
        task_uuid = self._rw_tasks.name(str(task._uuid))
        self._enter_task(task)
        with self._event('playbook_on_task_start', task=task, name=task.get_name(),
                         is_conditional=is_conditional, uuid=task_uuid):
            super().v2_playbook_on_task_start(task, is_conditional)

    def v2_playbook_on_handler_task_start(self, task):
        # Reported as a task start; is_conditional=True is how handlers were told apart.
        self._enter_task(task)
        with self._event('playbook_on_task_start', task=task, name=task.get_name(),
                         uuid=str(task._uuid), is_conditional=True):
            super().v2_playbook_on_handler_task_start(task)

    def v2_playbook_on_cleanup_task_start(self, task):  # older cores only
        self._enter_task(task)
        with self._event('playbook_on_task_start', task=task, name=task.get_name(),
                         uuid=str(task._uuid), is_conditional=True):
            super().v2_playbook_on_cleanup_task_start(task)

    def v2_playbook_on_no_hosts_matched(self):
        with self._event('playbook_on_no_hosts_matched'):
            super().v2_playbook_on_no_hosts_matched()

    def v2_playbook_on_no_hosts_remaining(self):
        with self._event('playbook_on_no_hosts_remaining'):
            super().v2_playbook_on_no_hosts_remaining()

    def v2_playbook_on_notify(self, handler, host):
        with self._event('playbook_on_notify', host=host.get_name(), handler=handler.get_name()):
            super().v2_playbook_on_notify(handler, host)

    def v2_playbook_on_import_for_host(self, result, imported_file):  # older cores only
        with self._event('playbook_on_import_for_host'):
            super().v2_playbook_on_import_for_host(result, imported_file)

    def v2_playbook_on_not_import_for_host(self, result, missing_file):  # older cores only
        with self._event('playbook_on_not_import_for_host'):
            super().v2_playbook_on_not_import_for_host(result, missing_file)

    def v2_playbook_on_setup(self):  # older cores only
        with self._event('playbook_on_setup'):
            super().v2_playbook_on_setup()

    def v2_playbook_on_stats(self, stats):
        self._leave_play()
        with self._event('playbook_on_stats',
                         changed=stats.changed,
                         dark=stats.dark,
                         failures=stats.failures,
                         ignored=getattr(stats, 'ignored', 0),
                         ok=stats.ok,
                         processed=stats.processed,
                         rescued=getattr(stats, 'rescued', 0),
                         skipped=stats.skipped,
                         artifact_data=stats.custom.get('_run', {}) if hasattr(stats, 'custom') else {}):
            super().v2_playbook_on_stats(stats)

    # ---- per-host results ----------------------------------------------------------------

    def v2_runner_on_start(self, host, task):
        self._rw_host_start[host.get_name()] = _utcnow()
        with self._event('runner_on_start', host=host.get_name(), task=task):
            super().v2_runner_on_start(host, task)

    def v2_runner_on_ok(self, result):
        if result._task.action in ('setup', 'gather_facts'):
            # The environment is job metadata, and may hold secrets: keep it out of events
            # (and out of the display text, as ansible-runner does).
            result._result.get('ansible_facts', {}).pop('ansible_env', None)
        start, end, duration = self._timing(result)
        with self._event('runner_on_ok', host=result._host.get_name(), remote_addr=result._host.address,
                         task=result._task, res=result._result, start=start, end=end,
                         duration=duration, event_loop=_event_loop(result._task)):
            super().v2_runner_on_ok(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        start, end, duration = self._timing(result)
        with self._event('runner_on_failed', host=result._host.get_name(), remote_addr=result._host.address,
                         res=result._result, task=result._task, start=start, end=end,
                         duration=duration, ignore_errors=ignore_errors,
                         event_loop=_event_loop(result._task)):
            super().v2_runner_on_failed(result, ignore_errors)

    def v2_runner_on_skipped(self, result):
        start, end, duration = self._timing(result)
        with self._event('runner_on_skipped', host=result._host.get_name(), remote_addr=result._host.address,
                         task=result._task, start=start, end=end, duration=duration,
                         event_loop=_event_loop(result._task)):
            super().v2_runner_on_skipped(result)

    def v2_runner_on_unreachable(self, result):
        start, end, duration = self._timing(result)
        with self._event('runner_on_unreachable', host=result._host.get_name(),
                         remote_addr=result._host.address, task=result._task, start=start, end=end,
                         duration=duration, res=result._result):
            super().v2_runner_on_unreachable(result)

    def v2_runner_on_no_hosts(self, task):  # older cores only
        with self._event('runner_on_no_hosts', task=task):
            super().v2_runner_on_no_hosts(task)

    def v2_runner_on_async_poll(self, result):
        with self._event('runner_on_async_poll', **self._async_result(result)):
            super().v2_runner_on_async_poll(result)

    def v2_runner_on_async_ok(self, result):
        with self._event('runner_on_async_ok', **self._async_result(result)):
            super().v2_runner_on_async_ok(result)

    def v2_runner_on_async_failed(self, result):
        with self._event('runner_on_async_failed', **self._async_result(result)):
            super().v2_runner_on_async_failed(result)

    def v2_runner_on_file_diff(self, result, diff):  # older cores only
        with self._event('runner_on_file_diff', host=result._host.get_name(), task=result._task, diff=diff):
            super().v2_runner_on_file_diff(result, diff)

    def v2_on_file_diff(self, result):
        # Reported under the older event name.
        with self._event('runner_on_file_diff', host=result._host.get_name(), task=result._task,
                         diff=result._result.get('diff')):
            super().v2_on_file_diff(result)

    def v2_runner_item_on_ok(self, result):
        with self._event('runner_item_on_ok', **self._host_result(result)):
            super().v2_runner_item_on_ok(result)

    def v2_runner_item_on_failed(self, result):
        with self._event('runner_item_on_failed', **self._host_result(result)):
            super().v2_runner_item_on_failed(result)

    def v2_runner_item_on_skipped(self, result):
        with self._event('runner_item_on_skipped', **self._host_result(result)):
            super().v2_runner_item_on_skipped(result)

    def v2_runner_retry(self, result):
        with self._event('runner_retry', **self._host_result(result)):
            super().v2_runner_retry(result)
