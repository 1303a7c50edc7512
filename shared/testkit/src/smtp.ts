import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestCA } from "./tls";
import { freePort, waitForPort } from "./services";

/** One mail as the SMTP server took it. */
export interface ReceivedMail {
  from: string;
  to: string[];
  /** The whole message, headers and body, as sent. */
  data: string;
  /** Whether the conversation was under TLS (STARTTLS) and authenticated when the mail came. */
  tls: boolean;
  authenticated: boolean;
}

export interface TestSmtpServer {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The PEM certificate of the CA that signed the server's: what a client trusts. */
  ca: string;
  mails: ReceivedMail[];
  /** Resolves once `count` mails have come, or fails after `timeoutMs`. */
  received(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  stop(): Promise<void>;
}

/**
 * A real SMTP server (Python's aiosmtpd, Debian package python3-aiosmtpd) on a free port that
 * requires STARTTLS, with a certificate of a throwaway CA, and AUTH with the given login before it
 * takes a mail. Each mail is printed as a JSON line, which this side reads.
 */
export async function startSmtpServer({ user = "umos", password = `pw-${Math.random().toString(36).slice(2)}` } = {}): Promise<TestSmtpServer> {
  const [ca, port, dir, python] = await Promise.all([createTestCA(), freePort(), mkdtemp(join(tmpdir(), "umos-smtp-")), pythonWithAiosmtpd()]);
  await Bun.write(join(dir, "smtp.py"), SERVER);
  const proc = Bun.spawn([python, join(dir, "smtp.py"), ca.certFile, ca.keyFile, String(port), user, password], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const mails: ReceivedMail[] = [];
  void (async () => {
    let buffered = "";
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith("{")) mails.push(JSON.parse(line) as ReceivedMail);
      }
    }
  })();
  try {
    await Promise.race([
      waitForPort(port, 10_000),
      proc.exited.then(async () => {
        throw new Error(`the SMTP server exited: ${await new Response(proc.stderr).text()}`);
      }),
    ]);
  } catch (err) {
    proc.kill();
    await Promise.all([ca.dispose(), rm(dir, { recursive: true, force: true })]);
    throw err;
  }
  return {
    host: "127.0.0.1",
    port,
    user,
    password,
    ca: ca.ca,
    mails,
    async received(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (mails.length < count) {
        if (Date.now() > deadline) throw new Error(`the SMTP server got ${mails.length} of ${count} mails within ${timeoutMs} ms`);
        await Bun.sleep(20);
      }
      return mails.slice(0, count);
    },
    async stop() {
      proc.stdin.end();
      const exited = await Promise.race([proc.exited, Bun.sleep(3000).then(() => undefined)]);
      if (exited === undefined) {
        proc.kill();
        await proc.exited;
      }
      await Promise.all([ca.dispose(), rm(dir, { recursive: true, force: true })]);
    },
  };
}

/** The python3 on PATH if it has aiosmtpd, else Debian's own, where python3-aiosmtpd installs it. */
async function pythonWithAiosmtpd(): Promise<string> {
  for (const python of ["python3", "/usr/bin/python3"]) {
    const probe = Bun.spawn([python, "-c", "import aiosmtpd"], { stdout: "ignore", stderr: "ignore" });
    if ((await probe.exited) === 0) return python;
  }
  throw new Error("no python3 with aiosmtpd: apt-get install -y python3-aiosmtpd");
}

const SERVER = `
import json, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cert, key, port, user, password = sys.argv[1:6]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)

class Handler:
    async def handle_DATA(self, server, session, envelope):
        mail = {"from": envelope.mail_from, "to": envelope.rcpt_tos, "data": envelope.content.decode("utf8", "replace"),
                "tls": session.ssl is not None, "authenticated": bool(session.authenticated)}
        print(json.dumps(mail), flush=True)
        return "250 OK stored"

def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    # handled=False: aiosmtpd then answers a failure with 535 itself (its default, True, answers nothing).
    return AuthResult(success=ok, handled=False)

controller = Controller(Handler(), hostname="127.0.0.1", port=int(port), tls_context=context, require_starttls=True,
                        authenticator=authenticate, auth_required=True, auth_require_tls=True)
controller.start()
sys.stdin.read()
controller.stop()
`;
