/**
 * Catalogue of the fields Falco offers for the `syscall` event source, as of Falco 0.41-0.44:
 * the libsinsp filterchecks (gen_event, event, thread, user, group, fd, fspath, fdlist, utils)
 * plus the fields of the bundled `container` plugin (`container.*`, `k8s.*` and three
 * `proc.is_container_*` flags), which moved out of libs in Falco 0.41.
 *
 * Data only. Names, types, argument rules and flags are facts taken from falcosecurity/libs
 * and falcosecurity/plugins; every description is written here in our own words.
 *
 * Not listed, because Falco 0.41+ no longer has them (a rule using one fails to load there):
 * - `syslog.*`, `mesos.*`: filterchecks removed from libs.
 * - `span.*`, `evtin.*`: tracer filterchecks, deprecated and then removed from libs.
 * The legacy rule files under shared/falco use none of these.
 *
 * `%container.info` is not a field: it is an output placeholder Falco expands before the output
 * is compiled (see OUTPUT_PLACEHOLDERS). The legacy falco-rules 1.0.1 use it.
 *
 * Type mapping from libs: PT_CHARBUF -> string, PT_FSPATH -> fspath, PT_FSRELPATH -> fsrelpath,
 * PT_BYTEBUF -> bytebuf, PT_INTn/UINTn -> intN/uintN, PT_RELTIME -> reltime, PT_ABSTIME -> abstime,
 * PT_BOOL -> bool, PT_DOUBLE -> double, PT_IPADDR -> ipaddr, PT_IPNET -> ipnet, PT_PORT -> port.
 * Plugin types: string, uint64, bool, reltime, abstime, ipaddr, ipnet.
 */

import type { FieldInfo, FieldType } from '../types.ts';
import {
  PPME_EVENT_NAMES,
  PPME_EVENT_CODE_TOTAL,
  PPME_GENERIC_CODES,
  PPM_SC_NAMES,
} from './events.ts';

type Opts = Omit<FieldInfo, 'name' | 'type' | 'description'>;

function f(name: string, type: FieldType, description: string, opts: Opts = {}): FieldInfo {
  return { name, type, description, ...opts };
}

/** Ancestor lookups: `[n]` picks the n-th ancestor (0 = the process itself); bare = any ancestor. */
const ANCESTOR: Opts = { arg: 'optional', argKind: 'index', noRhs: true, anyWithoutArg: true };
/** Plugin label fields: `x.label[key]` or `x.label.key`. */
const LABEL: Opts = { arg: 'required', argKind: 'key', dotArg: true };
/** Container mount lookups: `[n]` by position, or `[path glob]` by path. */
const MOUNT: Opts = { arg: 'required', argKind: 'any' };
const DEPRECATED: Opts = { deprecated: true };
const K8S_LEGACY = 'Legacy field kept by the container plugin for old rules; it has no data source any more and is always missing (use the k8smeta plugin).';

export const SYSCALL_FIELDS: readonly FieldInfo[] = [
  // ---- evt (generic): fields every event has, whatever its source ----
  f('evt.num', 'uint64', 'Sequence number of the event within the capture or live session.'),
  f('evt.time', 'string', 'Event timestamp rendered as a time of day, nanoseconds included.'),
  f('evt.time.s', 'string', 'Event timestamp rendered as a time of day, whole seconds only.'),
  f('evt.time.iso8601', 'string', 'Event timestamp in ISO 8601 form, UTC, with nanoseconds.'),
  f('evt.datetime', 'string', 'Event timestamp rendered as date plus time of day, nanoseconds included.'),
  f('evt.datetime.s', 'string', 'Event timestamp rendered as date plus time of day, whole seconds only.'),
  f('evt.rawtime', 'abstime', 'Event timestamp as nanoseconds since the Unix epoch.'),
  f('evt.rawtime.s', 'abstime', 'Whole-second part of the event timestamp (seconds since the epoch).'),
  f('evt.rawtime.ns', 'abstime', 'Sub-second part of the event timestamp, in nanoseconds.'),
  f('evt.reltime', 'reltime', 'Nanoseconds elapsed since the first event of the capture.'),
  f('evt.reltime.s', 'reltime', 'Whole seconds elapsed since the first event of the capture.'),
  f('evt.reltime.ns', 'reltime', 'Sub-second part, in nanoseconds, of the time since the first event.'),
  f('evt.pluginname', 'string', 'For events produced by a plugin source, the name of that plugin.'),
  f('evt.plugininfo', 'string', 'For events produced by a plugin source, the one-line summary the plugin renders.'),
  f('evt.source', 'string', 'Name of the event source the event came from (here `syscall`).'),
  f('evt.is_async', 'bool', 'True for asynchronous meta-events injected by libs or plugins rather than by the driver.'),
  f('evt.asynctype', 'string', 'For asynchronous events, their type name (for example `container`).'),
  f('evt.hostname', 'string', 'Host name of the machine, overridable through an environment variable (FALCO_HOSTNAME for Falco).'),

  // ---- evt (syscall): fields about the system call event itself ----
  f('evt.latency', 'reltime', 'Deprecated: was the time between the enter and exit halves of a syscall; libs now always reports 0.', DEPRECATED),
  f('evt.latency.s', 'reltime', 'Deprecated: whole-second part of evt.latency (always 0).', DEPRECATED),
  f('evt.latency.ns', 'reltime', 'Deprecated: sub-second part of evt.latency (always 0).', DEPRECATED),
  f('evt.latency.quantized', 'uint64', 'Deprecated: base-10 logarithm bucket of evt.latency (always 0).', DEPRECATED),
  f('evt.latency.human', 'string', 'Deprecated: evt.latency as readable text such as `1.2ms` (always `0ns`).', DEPRECATED),
  f('evt.deltatime', 'reltime', 'Nanoseconds since the previous event seen by the same check.'),
  f('evt.deltatime.s', 'reltime', 'Whole-second part of evt.deltatime.'),
  f('evt.deltatime.ns', 'reltime', 'Sub-second part of evt.deltatime, in nanoseconds.'),
  f('evt.outputtime', 'string', 'Output-only timestamp whose format follows the time display option (by default the same as evt.time).'),
  f('evt.dir', 'string', 'Deprecated: `>` for the enter half of a syscall, `<` for the exit half. Only exit events are produced now.', DEPRECATED),
  f('evt.type', 'string', 'Event type name, usually the syscall name (`open`, `execve`) or a scheduler/meta event name (`procexit`, `container`).'),
  f('evt.type.is', 'uint32', 'Written `evt.type.is.NAME`: 1 when the event type is NAME (or the numeric event code), else 0.', { arg: 'required', argKind: 'key', dotArg: true }),
  f('syscall.type', 'string', 'System call name, missing for events that are not syscalls (scheduler, meta events); stricter than evt.type.'),
  f('evt.category', 'string', 'Broad category of the event, such as `file`, `net`, `memory`, `process`, `IPC`.'),
  f('evt.cpu', 'int16', 'Index of the CPU the event was captured on.'),
  f('evt.args', 'string', 'All the event parameters rendered together as one `name=value ...` string.'),
  f('evt.arg', 'string', 'One event parameter, rendered as text (file descriptors and error codes resolved when possible): `evt.arg.NAME` by parameter name or `evt.arg[N]` by position.', { arg: 'required', argKind: 'any', dotArg: true }),
  f('evt.rawarg', 'string', 'One event parameter by name (`evt.rawarg.NAME`) in its raw, unformatted form; its real type is the declared type of that parameter (dynamic in libs).', { arg: 'required', argKind: 'key', dotArg: true, noRhs: true }),
  f('evt.info', 'string', 'Same text as evt.args in current libs.'),
  f('evt.buffer', 'bytebuf', 'The data buffer of I/O events (read, write, send, recvfrom, ...); searchable with `contains`/`bcontains`.'),
  f('evt.buflen', 'uint64', 'Size of the data buffer of I/O events.'),
  f('evt.res', 'string', 'Return value as text: `SUCCESS`, or the error name (e.g. `ENOENT`) when the call failed.'),
  f('evt.rawres', 'int64', 'Return value as a signed number (negative errno on failure), for numeric comparisons.'),
  f('evt.failed', 'bool', 'True when the syscall returned an error.'),
  f('evt.is_io', 'bool', 'True for events that read from or write to a file descriptor.'),
  f('evt.is_io_read', 'bool', 'True for events that read from a file descriptor.'),
  f('evt.is_io_write', 'bool', 'True for events that write to a file descriptor.'),
  f('evt.io_dir', 'string', 'Direction of an I/O event: `r` for reads, `w` for writes.'),
  f('evt.is_wait', 'bool', 'True for events that block the thread (sleep, select, poll, ...).'),
  f('evt.wait_latency', 'reltime', 'Deprecated: time a blocking call spent waiting (always 0).', DEPRECATED),
  f('evt.is_syslog', 'bool', 'True for writes to /dev/log.'),
  f('evt.count', 'uint32', 'Constant 1, handy for counting events.'),
  f('evt.count.error', 'uint32', '1 when the event returned an error, else 0.'),
  f('evt.count.error.file', 'uint32', '1 when a file-related event returned an error, else 0.'),
  f('evt.count.error.net', 'uint32', '1 when a network-related event returned an error, else 0.'),
  f('evt.count.error.memory', 'uint32', '1 when a memory-related event returned an error, else 0.'),
  f('evt.count.error.other', 'uint32', '1 when an event outside the file/net/memory categories returned an error, else 0.'),
  f('evt.count.exit', 'uint32', '1 for exit events, else 0.'),
  f('evt.count.procinfo', 'uint32', '1 for procinfo events emitted for a process main thread, else 0 (table views only).'),
  f('evt.count.threadinfo', 'uint32', '1 for procinfo events, else 0 (table views only).'),
  f('evt.around', 'uint64', 'Filter-only: `evt.around[T] = D` keeps events within D milliseconds of absolute timestamp T (ns). Only `=` is allowed.', { arg: 'required', argKind: 'index', noRhs: true }),
  f('evt.abspath', 'string', 'Absolute path built from a directory fd and a relative path argument (renameat, symlinkat, openat, linkat, unlinkat, mkdirat, fchmodat, fchownat, ...).'),
  f('evt.abspath.src', 'string', 'For two-path syscalls (renameat, linkat), the absolute source path; elsewhere same as evt.abspath.'),
  f('evt.abspath.dst', 'string', 'For two-path syscalls (renameat, linkat), the absolute destination path.'),
  f('evt.buflen.in', 'uint64', 'Buffer size, for input I/O events only (table views).'),
  f('evt.buflen.out', 'uint64', 'Buffer size, for output I/O events only (table views).'),
  f('evt.buflen.file', 'uint64', 'Buffer size, for file I/O events only (table views).'),
  f('evt.buflen.file.in', 'uint64', 'Buffer size, for file reads only (table views).'),
  f('evt.buflen.file.out', 'uint64', 'Buffer size, for file writes only (table views).'),
  f('evt.buflen.net', 'uint64', 'Buffer size, for network I/O events only (table views).'),
  f('evt.buflen.net.in', 'uint64', 'Buffer size, for network reads only (table views).'),
  f('evt.buflen.net.out', 'uint64', 'Buffer size, for network writes only (table views).'),
  f('evt.is_open_read', 'bool', 'True for open/openat/openat2/open_by_handle_at events whose flags open the file for reading.'),
  f('evt.is_open_write', 'bool', 'True for open/openat/openat2/open_by_handle_at events whose flags open the file for writing.'),
  f('evt.is_open_exec', 'bool', 'True for open-family or creat events that create a file with an execute permission bit set.'),
  f('evt.is_open_create', 'bool', 'True for open-family events that create the file (O_CREAT).'),
  f('evt.infra.docker.name', 'string', 'Name of a Docker infrastructure event (table views).'),
  f('evt.infra.docker.container.id', 'string', 'Container id a Docker infrastructure event refers to (table views).'),
  f('evt.infra.docker.container.name', 'string', 'Container name a Docker infrastructure event refers to (table views).'),
  f('evt.infra.docker.container.image', 'string', 'Container image a Docker infrastructure event refers to (table views).'),

  // ---- process (proc.*, thread.*): the process and thread that produced the event ----
  f('proc.exe', 'string', 'argv[0] of the process: usually the program as invoked, but any string the caller chose.'),
  f('proc.pexe', 'string', 'proc.exe of the parent process.'),
  f('proc.aexe', 'string', 'proc.exe of an ancestor: `[1]` parent, `[2]` grandparent, `[0]` the process; without argument, any ancestor.', ANCESTOR),
  f('proc.exepath', 'string', 'Full path of the executable file, symlinks resolved.'),
  f('proc.pexepath', 'string', 'proc.exepath of the parent process.'),
  f('proc.aexepath', 'string', 'proc.exepath of an ancestor (`[n]` as in proc.aexe); without argument, any ancestor.', ANCESTOR),
  f('proc.name', 'string', 'Process name as the kernel keeps it (task comm, at most 16 characters); may differ from the file name.'),
  f('proc.pname', 'string', 'proc.name of the parent process.'),
  f('proc.aname', 'string', 'proc.name of an ancestor (`[n]` as in proc.aexe); without argument, any ancestor.', ANCESTOR),
  f('proc.args', 'string', 'Command-line arguments after argv[0], space-joined; `proc.args[N]` picks one argument (0 = first after argv[0]).', { arg: 'optional', argKind: 'index' }),
  f('proc.aargs', 'string', 'proc.args of an ancestor (`[n]` as in proc.aexe); without argument, any ancestor.', { arg: 'optional', argKind: 'index', anyWithoutArg: true }),
  f('proc.cmdline', 'string', 'proc.name followed by proc.args.'),
  f('proc.pcmdline', 'string', 'proc.cmdline of the parent process.'),
  f('proc.acmdline', 'string', 'proc.cmdline of an ancestor (`[n]` as in proc.aexe); without argument, any ancestor.', ANCESTOR),
  f('proc.cmdnargs', 'uint64', 'Number of command-line arguments after argv[0].'),
  f('proc.cmdlenargs', 'uint64', 'Total length of the command-line arguments after argv[0], separators not counted.'),
  f('proc.exeline', 'string', 'proc.exe followed by proc.args.'),
  f('proc.env', 'string', 'Environment of the process as `NAME=value` pairs; `proc.env[NAME]` gives one variable\'s value.', { arg: 'optional', argKind: 'key' }),
  f('proc.aenv', 'string', 'Experimental: environment of ancestors. Bare: any ancestor; `[n]`: the n-th ancestor; `[NAME]`: first value of NAME going up the lineage.', { arg: 'optional', argKind: 'any', noRhs: true, anyWithoutArg: true }),
  f('proc.cwd', 'string', 'Current working directory of the process.'),
  f('proc.loginshellid', 'int64', 'Pid of the eldest shell among the ancestors, if any; groups events of one login session.'),
  f('proc.tty', 'uint32', 'Controlling terminal number; 0 when the process has none.'),
  f('proc.pid', 'int64', 'Process id (thread group id) on the host.'),
  f('proc.ppid', 'int64', 'Parent process id on the host.'),
  f('proc.apid', 'int64', 'Pid of an ancestor (`[n]` as in proc.aexe); without argument, any ancestor.', ANCESTOR),
  f('proc.vpid', 'int64', 'Process id as seen inside its own pid namespace.'),
  f('proc.pvpid', 'int64', 'Parent process id as seen inside the pid namespace.'),
  f('proc.sid', 'int64', 'Session id of the process.'),
  f('proc.sname', 'string', 'Name of the session leader (the process whose pid is proc.sid, else the eldest ancestor in the same session).'),
  f('proc.sid.exe', 'string', 'argv[0] of the session leader.'),
  f('proc.sid.exepath', 'string', 'Executable path of the session leader.'),
  f('proc.vpgid', 'int64', 'Process group id as seen inside the pid namespace.'),
  f('proc.vpgid.name', 'string', 'Name of the process group leader (namespace view), else the eldest ancestor in the same group.'),
  f('proc.vpgid.exe', 'string', 'argv[0] of the process group leader (namespace view).'),
  f('proc.vpgid.exepath', 'string', 'Executable path of the process group leader (namespace view).'),
  f('proc.pgid', 'int64', 'Process group id as seen from the host pid namespace.'),
  f('proc.pgid.name', 'string', 'Name of the process group leader (host view), else the eldest ancestor in the same group.'),
  f('proc.pgid.exe', 'string', 'argv[0] of the process group leader (host view).'),
  f('proc.pgid.exepath', 'string', 'Executable path of the process group leader (host view).'),
  f('proc.duration', 'reltime', 'Nanoseconds since the process started.'),
  f('proc.ppid.duration', 'reltime', 'Nanoseconds since the parent process started.'),
  f('proc.pid.ts', 'reltime', 'Start time of the process, nanoseconds since the epoch.'),
  f('proc.ppid.ts', 'reltime', 'Start time of the parent process, nanoseconds since the epoch.'),
  f('proc.is_exe_writable', 'bool', 'True when the executable file is writable by the user who started the process.'),
  f('proc.is_exe_upper_layer', 'bool', 'True when the executable lives in the upper (writable) layer of an overlay filesystem.'),
  f('proc.is_exe_lower_layer', 'bool', 'True when the executable lives in a lower (image) layer of an overlay filesystem.'),
  f('proc.is_exe_from_memfd', 'bool', 'True when the program was executed from an anonymous memfd file (fileless execution).'),
  f('proc.is_sid_leader', 'bool', 'True when the process leads its session (proc.sid equals proc.vpid).'),
  f('proc.is_vpgid_leader', 'bool', 'True when the process leads its process group (namespace view); typical of commands typed in a terminal.'),
  f('proc.is_pgid_leader', 'bool', 'True when the process leads its process group (host view).'),
  f('proc.exe_ino', 'int64', 'Inode number of the executable file.'),
  f('proc.exe_ino.ctime', 'abstime', 'Status-change time (ctime) of the executable file, ns since the epoch.'),
  f('proc.exe_ino.mtime', 'abstime', 'Content modification time (mtime) of the executable file, ns since the epoch.'),
  f('proc.exe_ino.ctime_duration_proc_start', 'abstime', 'Nanoseconds between the executable file\'s ctime and the process start.'),
  f('proc.exe_ino.ctime_duration_pidns_start', 'abstime', 'Nanoseconds between the pid namespace start and the executable\'s ctime, when the namespace is older.'),
  f('proc.pidns_init_start_ts', 'uint64', 'Start time of the process\'s pid namespace (its init process), ns since the epoch.'),
  f('thread.cap_permitted', 'string', 'Permitted capability set of the thread, as capability names.'),
  f('thread.cap_inheritable', 'string', 'Inheritable capability set of the thread, as capability names.'),
  f('thread.cap_effective', 'string', 'Effective capability set of the thread, as capability names.'),
  f('proc.fdopencount', 'uint64', 'Number of file descriptors the process has open.'),
  f('proc.fdlimit', 'int64', 'Maximum number of file descriptors the process may open.'),
  f('proc.fdusage', 'double', 'Open file descriptors as a fraction of the limit.'),
  f('proc.vmsize', 'uint64', 'Total virtual memory of the process, in KiB.'),
  f('proc.vmrss', 'uint64', 'Resident (non-swapped) memory of the process, in KiB.'),
  f('proc.vmswap', 'uint64', 'Swapped-out memory of the process, in KiB.'),
  f('thread.pfmajor', 'uint64', 'Major page faults of the thread since it started.'),
  f('thread.pfminor', 'uint64', 'Minor page faults of the thread since it started.'),
  f('thread.tid', 'int64', 'Thread id on the host.'),
  f('thread.ismain', 'bool', 'True when the thread is the main thread of its process.'),
  f('thread.vtid', 'int64', 'Thread id as seen inside the pid namespace.'),
  f('thread.nametid', 'string', 'Process name joined with the thread id, identifying a thread across execs (table views).'),
  f('thread.exectime', 'reltime', 'CPU time used by the thread that was just switched out, in ns (switch events only).'),
  f('thread.totexectime', 'reltime', 'Total CPU time used by the thread since the capture began, in ns (switch events only).'),
  f('thread.cgroups', 'string', 'All cgroups of the thread, joined into one string.'),
  f('thread.cgroup', 'string', 'Cgroup of the thread for one controller, written `thread.cgroup.CONTROLLER` (e.g. thread.cgroup.cpuacct).', { arg: 'required', argKind: 'key', dotArg: true }),
  f('proc.nthreads', 'uint64', 'Number of live threads of the process, leader included.'),
  f('proc.nchilds', 'uint64', 'Number of live threads of the process other than the leader.'),
  f('thread.cpu', 'double', 'CPU used by the thread over the last second.'),
  f('thread.cpu.user', 'double', 'User-mode CPU used by the thread over the last second.'),
  f('thread.cpu.system', 'double', 'Kernel-mode CPU used by the thread over the last second.'),
  f('thread.vmsize', 'uint64', 'Virtual memory of the process in KiB, reported on its main thread only (0 elsewhere).'),
  f('thread.vmrss', 'uint64', 'Resident memory of the process in KiB, reported on its main thread only (0 elsewhere).'),
  f('thread.vmsize.b', 'uint64', 'As thread.vmsize, in bytes (table views).'),
  f('thread.vmrss.b', 'uint64', 'As thread.vmrss, in bytes (table views).'),
  f('proc.stdin.type', 'string', 'Type of the process\'s file descriptor 0 (file, pipe, ipv4, ...).'),
  f('proc.stdout.type', 'string', 'Type of the process\'s file descriptor 1.'),
  f('proc.stderr.type', 'string', 'Type of the process\'s file descriptor 2.'),
  f('proc.stdin.name', 'string', 'Name (path or connection) of the process\'s file descriptor 0.'),
  f('proc.stdout.name', 'string', 'Name (path or connection) of the process\'s file descriptor 1.'),
  f('proc.stderr.name', 'string', 'Name (path or connection) of the process\'s file descriptor 2.'),

  // ---- user: the user the thread runs as ----
  f('user.uid', 'uint32', 'Numeric user id.'),
  f('user.name', 'string', 'User name.'),
  f('user.homedir', 'string', 'Home directory of the user.'),
  f('user.shell', 'string', 'Login shell of the user.'),
  f('user.loginuid', 'int64', 'Audit (login) user id; -1 when unset.'),
  f('user.loginname', 'string', 'User name of the audit (login) user id.'),

  // ---- group: the group the thread runs as ----
  f('group.gid', 'uint32', 'Numeric group id.'),
  f('group.name', 'string', 'Group name.'),

  // ---- fd: the file descriptor the event works on ----
  f('fd.num', 'int64', 'File descriptor number.'),
  f('fd.type', 'string', 'Kind of descriptor: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, inotify, memfd, ...'),
  f('fd.typechar', 'string', 'Kind of descriptor as one letter: f file, 4/6 IP socket, u unix socket, p pipe, e eventfd, s signalfd, l eventpoll, i inotify, b bpf, r io_uring, m memfd, o other.'),
  f('fd.name', 'string', 'Full name of the descriptor: the absolute path for files, the connection tuple for sockets.'),
  f('fd.directory', 'string', 'For files, the directory part of the path.'),
  f('fd.filename', 'string', 'For files, the last path component.'),
  f('fd.ip', 'ipaddr', 'Filter-only: matches when either the client or the server address equals the value.', { noRhs: true }),
  f('fd.cip', 'ipaddr', 'Client IP address of the connection.'),
  f('fd.sip', 'ipaddr', 'Server IP address of the connection.'),
  f('fd.lip', 'ipaddr', 'Local IP address of the connection.'),
  f('fd.rip', 'ipaddr', 'Remote IP address of the connection.'),
  f('fd.port', 'port', 'Filter-only: matches when either the client or the server port equals the value.', { noRhs: true }),
  f('fd.cport', 'port', 'Client TCP/UDP port.'),
  f('fd.sport', 'port', 'Server TCP/UDP port.'),
  f('fd.lport', 'port', 'Local TCP/UDP port.'),
  f('fd.rport', 'port', 'Remote TCP/UDP port.'),
  f('fd.l4proto', 'string', 'Transport protocol of a socket: tcp, udp, icmp or raw.'),
  f('fd.sockfamily', 'string', 'Socket family: ip or unix.'),
  f('fd.is_server', 'bool', 'True when this process is the server side of the connection.'),
  f('fd.uid', 'string', 'Unique id of the descriptor, made of the thread id and the fd number.'),
  f('fd.containername', 'string', 'Container id joined with fd.name, to tell apart same paths in different containers.'),
  f('fd.containerdirectory', 'string', 'Container id joined with fd.directory.'),
  f('fd.proto', 'port', 'Filter-only: matches when either the client or the server protocol (service name) equals the value.', { noRhs: true }),
  f('fd.cproto', 'string', 'Service name of the client port (from the services database).'),
  f('fd.sproto', 'string', 'Service name of the server port.'),
  f('fd.lproto', 'string', 'Service name of the local port.'),
  f('fd.rproto', 'string', 'Service name of the remote port.'),
  f('fd.net', 'ipnet', 'Filter-only: matches when either endpoint address falls in the given network (CIDR).', { noRhs: true }),
  f('fd.cnet', 'ipnet', 'Filter-only: matches when the client address falls in the given network.', { noRhs: true }),
  f('fd.snet', 'ipnet', 'Filter-only: matches when the server address falls in the given network.', { noRhs: true }),
  f('fd.lnet', 'ipnet', 'Filter-only: matches when the local address falls in the given network.', { noRhs: true }),
  f('fd.rnet', 'ipnet', 'Filter-only: matches when the remote address falls in the given network.', { noRhs: true }),
  f('fd.connected', 'bool', 'For TCP/UDP sockets, true once the socket is connected.'),
  f('fd.name_changed', 'bool', 'True when this event changed the descriptor\'s name (e.g. a UDP socket whose peer changed).'),
  f('fd.cip.name', 'string', 'DNS name known for the client address.', { noRhs: true }),
  f('fd.sip.name', 'string', 'DNS name known for the server address.', { noRhs: true }),
  f('fd.lip.name', 'string', 'DNS name known for the local address.', { noRhs: true }),
  f('fd.rip.name', 'string', 'DNS name known for the remote address.', { noRhs: true }),
  f('fd.dev', 'int32', 'Device number (major and minor together) of the file\'s filesystem.'),
  f('fd.dev.major', 'int32', 'Major device number of the file\'s filesystem.'),
  f('fd.dev.minor', 'int32', 'Minor device number of the file\'s filesystem.'),
  f('fd.ino', 'int64', 'Inode number of the file.'),
  f('fd.nameraw', 'string', 'For files, the path exactly as the syscall passed it (not made absolute).'),
  f('fd.types', 'string', 'Set of the types of all descriptors the process has open; `fd.types[N]` gives the type of descriptor N only.', { isList: true, arg: 'optional', argKind: 'index', noRhs: true }),
  f('fd.is_upper_layer', 'bool', 'True when the file lives in the upper (writable) layer of an overlay filesystem.'),
  f('fd.is_lower_layer', 'bool', 'True when the file lives in a lower (image) layer of an overlay filesystem.'),

  // ---- fs.path: the filesystem path(s) a syscall acts on, fd or not ----
  f('fs.path.name', 'string', 'Path a single-path syscall works on (open, mkdir, unlink, chmod, ...), made absolute with the cwd when needed.'),
  f('fs.path.nameraw', 'string', 'Same path as fs.path.name, exactly as passed to the syscall.'),
  f('fs.path.source', 'string', 'Source path of a two-path syscall (rename, link, symlink, mount), made absolute.'),
  f('fs.path.sourceraw', 'string', 'Same as fs.path.source, exactly as passed to the syscall.'),
  f('fs.path.target', 'string', 'Target path of a two-path syscall, made absolute.'),
  f('fs.path.targetraw', 'string', 'Same as fs.path.target, exactly as passed to the syscall.'),

  // ---- fdlist: the descriptor set of poll-style events ----
  f('fdlist.nums', 'string', 'For poll/ppoll, the fd numbers of the polled set, comma-separated.'),
  f('fdlist.names', 'string', 'For poll/ppoll, the names of the polled descriptors, comma-separated.'),
  f('fdlist.cips', 'string', 'For poll/ppoll, the client IP addresses of the polled sockets, comma-separated.'),
  f('fdlist.sips', 'string', 'For poll/ppoll, the server IP addresses of the polled sockets, comma-separated.'),
  f('fdlist.cports', 'string', 'For poll/ppoll, the client ports of the polled sockets, comma-separated.'),
  f('fdlist.sports', 'string', 'For poll/ppoll, the server ports of the polled sockets, comma-separated.'),

  // ---- util: helper fields ----
  f('util.cnt', 'uint64', 'Counter that goes up by one each time it is read.'),

  // ---- container (container plugin): the container the thread runs in ----
  f('container.id', 'string', 'Short (12 character) container id, taken from the cgroups in the kernel; `host` for processes outside containers.'),
  f('container.full_id', 'string', 'Full 64-character container id, known once the runtime has been queried.'),
  f('container.name', 'string', 'Container name from the runtime; `host` outside containers.'),
  f('container.image', 'string', 'Image reference of the container (e.g. repo/name:tag).'),
  f('container.image.id', 'string', 'Image id of the container.'),
  f('container.type', 'string', 'Runtime that runs the container: docker, cri-o, containerd, podman, ...'),
  f('container.privileged', 'bool', 'True for privileged containers.'),
  f('container.mounts', 'string', 'All mounts of the container, each as `source:dest:mode:rdwr:propagation`.'),
  f('container.mount', 'string', 'One mount, chosen by position (`[0]`) or by source path glob (`[/usr/*]`), as `source:dest:mode:rdwr:propagation`; `none` when nothing matches.', MOUNT),
  f('container.mount.source', 'string', 'Source of one mount, chosen by position or by destination path glob.', MOUNT),
  f('container.mount.dest', 'string', 'Destination of one mount, chosen by position or by source path glob.', MOUNT),
  f('container.mount.mode', 'string', 'Mode of one mount, chosen by position or by source path glob.', MOUNT),
  f('container.mount.rdwr', 'string', 'Read-write flag (true/false) of one mount, chosen by position or by source path glob.', MOUNT),
  f('container.mount.propagation', 'string', 'Propagation mode of one mount, chosen by position or by source path glob.', MOUNT),
  f('container.image.repository', 'string', 'Repository part of the container image reference.'),
  f('container.image.tag', 'string', 'Tag part of the container image reference.'),
  f('container.image.digest', 'string', 'Registry digest of the container image (sha256:...).'),
  f('container.healthcheck', 'string', 'Health check command of the container; `NONE` when explicitly disabled; missing when not configured.'),
  f('container.liveness_probe', 'string', 'Liveness probe command of the container; missing when none.'),
  f('container.readiness_probe', 'string', 'Readiness probe command of the container; missing when none.'),
  f('container.start_ts', 'abstime', 'Container start time, ns since the epoch, taken from the pid namespace start seen in the kernel.'),
  f('container.duration', 'reltime', 'Nanoseconds since container.start_ts.'),
  f('container.ip', 'string', 'Primary IPv4 address of the container (or of its pod).'),
  f('container.cni.json', 'string', 'CNI result of the pod (all interfaces and addresses) as raw JSON text; CRI runtimes only.'),
  f('container.host_pid', 'bool', 'True when the container shares the host pid namespace.'),
  f('container.host_network', 'bool', 'True when the container shares the host network namespace.'),
  f('container.host_ipc', 'bool', 'True when the container shares the host IPC namespace.'),
  f('container.label', 'string', 'One container label by key: `container.label[KEY]` or `container.label.KEY`.', LABEL),
  f('container.labels', 'string', 'All container labels as `key:value` pairs, comma-separated.'),
  f('proc.is_container_healthcheck', 'bool', 'True when the process runs as part of the container\'s health check.'),
  f('proc.is_container_liveness_probe', 'bool', 'True when the process runs as part of the container\'s liveness probe.'),
  f('proc.is_container_readiness_probe', 'bool', 'True when the process runs as part of the container\'s readiness probe.'),

  // ---- k8s (container plugin): Kubernetes pod and namespace, from the container runtime ----
  f('k8s.pod.name', 'string', 'Name of the Kubernetes pod the container belongs to.'),
  f('k8s.ns.name', 'string', 'Kubernetes namespace of the pod.'),
  f('k8s.pod.id', 'string', 'Legacy alias of k8s.pod.uid.'),
  f('k8s.pod.uid', 'string', 'UID Kubernetes gave the pod at creation.'),
  f('k8s.pod.sandbox_id', 'string', 'Short (12 character) id of the pod sandbox container.'),
  f('k8s.pod.full_sandbox_id', 'string', 'Full id of the pod sandbox container.'),
  f('k8s.pod.label', 'string', 'One pod label by key: `k8s.pod.label[KEY]` or `k8s.pod.label.KEY` (keys may contain `.`, `-`, `/`).', LABEL),
  f('k8s.pod.labels', 'string', 'All pod labels as `key:value` pairs, comma-separated.'),
  f('k8s.pod.ip', 'string', 'Primary IPv4 address of the pod.'),
  f('k8s.pod.cni.json', 'string', 'CNI result of the pod as raw JSON text (same as container.cni.json).'),
  f('k8s.rc.name', 'string', `Replication controller name. ${K8S_LEGACY}`),
  f('k8s.rc.id', 'string', `Replication controller id. ${K8S_LEGACY}`),
  f('k8s.rc.label', 'string', `Replication controller label by key. ${K8S_LEGACY}`, LABEL),
  f('k8s.rc.labels', 'string', `Replication controller labels. ${K8S_LEGACY}`),
  f('k8s.svc.name', 'string', `Service name(s). ${K8S_LEGACY}`),
  f('k8s.svc.id', 'string', `Service id(s). ${K8S_LEGACY}`),
  f('k8s.svc.label', 'string', `Service label by key. ${K8S_LEGACY}`, LABEL),
  f('k8s.svc.labels', 'string', `Service labels. ${K8S_LEGACY}`),
  f('k8s.ns.id', 'string', `Namespace id. ${K8S_LEGACY}`),
  f('k8s.ns.label', 'string', `Namespace label by key. ${K8S_LEGACY}`, LABEL),
  f('k8s.ns.labels', 'string', `Namespace labels. ${K8S_LEGACY}`),
  f('k8s.rs.name', 'string', `Replica set name. ${K8S_LEGACY}`),
  f('k8s.rs.id', 'string', `Replica set id. ${K8S_LEGACY}`),
  f('k8s.rs.label', 'string', `Replica set label by key. ${K8S_LEGACY}`, LABEL),
  f('k8s.rs.labels', 'string', `Replica set labels. ${K8S_LEGACY}`),
  f('k8s.deployment.name', 'string', `Deployment name. ${K8S_LEGACY}`),
  f('k8s.deployment.id', 'string', `Deployment id. ${K8S_LEGACY}`),
  f('k8s.deployment.label', 'string', `Deployment label by key. ${K8S_LEGACY}`, LABEL),
  f('k8s.deployment.labels', 'string', `Deployment labels. ${K8S_LEGACY}`),
];

/** Fields that Falco accepts in conditions only; using one in an output is an error. */
export const FILTER_ONLY_FIELDS: ReadonlySet<string> = new Set([
  'evt.around', 'fd.ip', 'fd.port', 'fd.proto', 'fd.net', 'fd.cnet', 'fd.snet', 'fd.lnet', 'fd.rnet',
]);

/** Fields that only make sense in outputs (they cannot be compared in a condition). */
export const OUTPUT_ONLY_FIELDS: ReadonlySet<string> = new Set(['evt.outputtime']);

/**
 * Dotted-argument fields whose argument can only be written after a dot (`thread.cgroup.cpuacct`,
 * `evt.type.is.open`, `evt.rawarg.fd`), never in brackets.
 */
export const DOT_ONLY_ARG_FIELDS: ReadonlySet<string> = new Set(['evt.type.is', 'thread.cgroup', 'evt.rawarg']);

/**
 * Fields whose argument can only be written in brackets (`evt.around[T]`); all fields without
 * dotArg are bracket-only too, this lists the ones where a dot form would otherwise look natural.
 * `evt.arg` takes a parameter name after a dot but only a position in brackets.
 */
export const BRACKET_ARG_MUST_BE_INDEX: ReadonlySet<string> = new Set(['evt.arg']);

/**
 * Output placeholders Falco expands in syscall rule outputs before compiling them; not fields.
 * `%container.info` becomes the value below unless Falco is told to replace it with its own
 * extra output format.
 */
export const OUTPUT_PLACEHOLDERS: Readonly<Record<string, string>> = {
  'container.info': 'container_id=%container.id container_name=%container.name',
};

/** First name segments of every field class in this table (`evt`, `proc`, `fs`, ...). */
export const SYSCALL_FIELD_CLASSES: readonly string[] = [
  ...new Set(SYSCALL_FIELDS.map((x) => x.name.split('.')[0]!)),
];

// ---- event types ----

function buildEventCodes(): Record<string, readonly number[]> {
  const codes: Record<string, number[]> = Object.create(null);
  // libs resolves names against the event table from code 2 on (the two generic codes are named
  // `syscall` but are reached only through syscall names without a dedicated event).
  for (let code = 2; code < PPME_EVENT_NAMES.length; code++) {
    const name = PPME_EVENT_NAMES[code]!;
    (codes[name] ??= []).push(code);
  }
  for (const sc of PPM_SC_NAMES) {
    if (!(sc in codes)) codes[sc] = [...PPME_GENERIC_CODES];
  }
  // Asynchronous event names the container plugin declares: valid for evt.type, no PPME code.
  for (const name of ['container_removed']) codes[name] ??= [];
  // `syscall` (the generic events' own name) resolves to no code at all in libs.
  codes['syscall'] ??= [];
  return codes;
}

/**
 * PPME event codes each `evt.type` value stands for, as libs computes them when it works out
 * which event types a rule can match. Every syscall without a dedicated event maps to the two
 * generic codes, so the union of several such names still counts 2.
 */
export const SYSCALL_EVENT_CODES: Readonly<Record<string, readonly number[]>> = buildEventCodes();

/** Every name `evt.type` accepts for the syscall source (event names, syscall names, plugin async names). */
export const SYSCALL_EVENT_NAMES: readonly string[] = Object.keys(SYSCALL_EVENT_CODES).sort();

/** Number of PPME codes per `evt.type` name (see SYSCALL_EVENT_CODES for set semantics). */
export const SYSCALL_EVENT_CODE_COUNT: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(SYSCALL_EVENT_CODES).map(([k, v]) => [k, v.length]),
);

/** Size of the set of all PPME codes; `not evt.type = x` matches all of them but x's. */
export const SYSCALL_EVENT_CODE_TOTAL = PPME_EVENT_CODE_TOTAL;

/** Falco warns when a syscall rule can match more event codes than this (or cannot be narrowed at all). */
export const EVENT_CODE_WARN_THRESHOLD = 100;

/** Set of PPME codes matched by any of the given `evt.type` names (unknown names add nothing). */
export function eventCodesFor(names: Iterable<string>): Set<number> {
  const out = new Set<number>();
  for (const n of names) for (const c of SYSCALL_EVENT_CODES[n] ?? []) out.add(c);
  return out;
}
