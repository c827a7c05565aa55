import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { contentId } from "../src/ids.js";
import { makePlan } from "../src/plan.js";
import { connectionOptions, redactUrl } from "../src/redis.js";
import { validateCell } from "../src/validate.js";

const root = mkdtempSync(join(tmpdir(), "grid-roots-"));
mkdirSync(join(root, "data", "lidc"), { recursive: true });
mkdirSync(join(root, "outside"), { recursive: true });
symlinkSync(join(root, "outside"), join(root, "data", "escape"));
const roots = [join(root, "data")];

/** A cell as a forger would write it: any content, with an id that matches it. */
function forged(patch: Record<string, unknown>) {
  const { id: _id, ...c } = {
    ...makePlan({
      tasks: ["ncs"],
      inits: ["scratch"],
      runs: 1,
      data: { ncs: join(root, "data", "lidc") },
      budget: { quick: true },
    }).cells[0],
    ...patch,
  };
  for (const k of Object.keys(c))
    if ((c as Record<string, unknown>)[k] === undefined) delete (c as Record<string, unknown>)[k];
  return { id: contentId(c), ...c };
}

describe("job payload validation", () => {
  it("accepts a planned cell whose data lies inside the roots", () => {
    const c = forged({});
    expect(validateCell(c, roots).id).toBe(c.id);
  });

  it("rejects ../ paths, paths outside the roots, and symbolic links out of them", () => {
    expect(() => validateCell(forged({ data: `${root}/data/lidc/../../outside` }), roots)).toThrow(
      /contains a \.\.\/ segment/,
    );
    expect(() => validateCell(forged({ data: `${root}/data/../../etc` }), roots)).toThrow(/\.\.\/ segment/);
    expect(() => validateCell(forged({ data: join(root, "outside") }), roots)).toThrow(
      /outside the data roots/,
    );
    expect(() => validateCell(forged({ weights: "/etc/passwd" }), roots)).toThrow(
      /weights "\/etc\/passwd" is outside/,
    );
    expect(() => validateCell(forged({ data: join(root, "data", "escape") }), roots)).toThrow(
      /outside the data roots/,
    );
    expect(() => validateCell(forged({ data: "relative/path" }), roots)).toThrow(/not an absolute path/);
    expect(() => validateCell(forged({}), [])).toThrow(/no data roots/);
  });

  it("rejects unknown tasks and inits, numbers out of bounds, unknown fields and a wrong id", () => {
    expect(() => validateCell(forged({ task: "rm -rf" }), roots)).toThrow(/task "rm -rf" is not one of/);
    expect(() => validateCell(forged({ init: "x" }), roots)).toThrow(/init "x"/);
    expect(() => validateCell(forged({ run: 1e9 }), roots)).toThrow(
      /run 1000000000 is not an integer in 0…999/,
    );
    expect(() => validateCell(forged({ seed: -1 }), roots)).toThrow(/seed -1/);
    expect(() => validateCell(forged({ budget: { quick: true, epochs: 1e12 } }), roots)).toThrow(
      /budget.epochs/,
    );
    expect(() => validateCell(forged({ budget: { quick: true, shell: 1 } }), roots)).toThrow(
      /budget.shell: unknown field/,
    );
    expect(() => validateCell({ ...forged({}), extra: 1 }, roots)).toThrow(/unknown field "extra"/);
    expect(() => validateCell({ ...forged({}), id: "0000000000000000" }, roots)).toThrow(
      /does not match the cell's content/,
    );
    expect(() => validateCell({ ...forged({}), id: "../../x" }, roots)).toThrow(/is not a cell id/);
    expect(() => validateCell("hello", roots)).toThrow(/not an object/);
  });
});

describe("queue connection options", () => {
  it("refuses credentials in the URL without echoing them", () => {
    let msg = "";
    try {
      connectionOptions("redis://user:hunter2@host:6379");
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/credentials in the URL are refused/);
    expect(msg).not.toContain("hunter2");
    expect(redactUrl("rediss://u:hunter2@h:1/2")).toBe("rediss://h:1/2");
  });

  it("reads the password from the environment or a file; rediss:// turns TLS on", () => {
    const f = join(root, "pw");
    writeFileSync(f, "from-file\n");
    const o = connectionOptions("rediss://example.org:6380/2", {
      GENESIS_REDIS_PASSWORD_FILE: f,
      GENESIS_REDIS_USERNAME: "grid",
    });
    expect(o).toMatchObject({
      host: "example.org",
      port: 6380,
      db: 2,
      username: "grid",
      password: "from-file",
      maxRetriesPerRequest: null,
    });
    expect(o.tls).toEqual({ servername: "example.org" });
    expect(connectionOptions("redis://h", { GENESIS_REDIS_PASSWORD: "p" })).toMatchObject({
      port: 6379,
      password: "p",
      db: 0,
    });
    expect(connectionOptions("redis://h").tls).toBeUndefined();
    expect(() => connectionOptions("http://h")).toThrow(/expected redis:\/\//);
    expect(() => connectionOptions("redis://h", { GENESIS_REDIS_PASSWORD_FILE: join(root, "none") })).toThrow(
      /GENESIS_REDIS_PASSWORD_FILE .*cannot read \(ENOENT\)/,
    );
  });

  it("an empty GENESIS_REDIS_PASSWORD is unset: the password file is read; no password when both are empty", () => {
    const f = join(root, "pw2");
    writeFileSync(f, "from-file\n");
    const env = { GENESIS_REDIS_PASSWORD: "", GENESIS_REDIS_PASSWORD_FILE: f };
    expect(connectionOptions("redis://h", env).password).toBe("from-file");
    expect("password" in connectionOptions("redis://h", { GENESIS_REDIS_PASSWORD: "" })).toBe(false);
  });

  it("a bad URL is echoed without credentials, with what is wrong", () => {
    const err = (url: string) => {
      try {
        connectionOptions(url, {});
      } catch (e) {
        return (e as Error).message;
      }
      return "accepted";
    };
    expect(err("127.0.0.1:6379")).toBe(
      "--queue 127.0.0.1:6379: not a redis:// or rediss:// URL (expected redis://HOST:PORT or rediss://HOST:PORT (TLS))",
    );
    expect(err("localhost:6379")).toMatch(/^--queue localhost:6379: not a redis:\/\/ or rediss:\/\/ URL/);
    expect(err("http://h:1")).toMatch(/^--queue http:\/\/h:1: not a redis:\/\/ or rediss:\/\/ URL/);
    expect(err("redis://127.0.0.1:99999")).toBe(
      '--queue redis://127.0.0.1:99999: port "99999" is not a number in 1…65535',
    );
    expect(err("redis://127.0.0.1:0")).toBe(
      '--queue redis://127.0.0.1:0: port "0" is not a number in 1…65535',
    );
    expect(err("redis://u:hunter2@127.0.0.1:63x9")).toBe(
      '--queue redis://127.0.0.1:63x9: port "63x9" is not a number in 1…65535',
    );
    expect(err("http://u:hunter2@h")).toBe(
      "--queue http://h: not a redis:// or rediss:// URL (expected redis://HOST:PORT or rediss://HOST:PORT (TLS))",
    );
    expect(err("redis://127.0.0.1:6379/1")).toBe("accepted");
  });
});
