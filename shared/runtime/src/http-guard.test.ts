import { describe, expect, test } from "bun:test";
import { createHttpGuard } from "./http-guard";

const request = (url: string, host: string | null) => new Request(url, { headers: host === null ? {} : { host } });
const code = async (response: Response | undefined) => (response ? ((await response.json()) as { error: { code: string } }).error.code : "pass");

describe("Host allowlist", () => {
  const loopback = createHttpGuard("127.0.0.1", undefined);

  test("a loopback listener answers the localhost names and its own address, on any port", async () => {
    for (const host of ["localhost", "localhost:8080", "127.0.0.1:8080", "[::1]:8080", "console.localhost:8080", "LOCALHOST"]) {
      expect(await code(loopback.refuse(request("http://localhost:8080/api/v1/devices", host)))).toBe("pass");
    }
  });

  test("a DNS-rebinding name, a missing Host and a Host with more than a host are refused", async () => {
    for (const host of ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost:80@evil.example", "localhost/x", "", "a b"]) {
      expect(await code(loopback.refuse(request("http://localhost:8080/api/v1/devices", host)))).toBe("host_not_allowed");
    }
    expect(await code(loopback.refuse(request("http://localhost:8080/", null)))).toBe("host_not_allowed");
  });

  test("configured names are answered, exactly or by subdomain, beside the localhost names", async () => {
    const guard = createHttpGuard("0.0.0.0", "iot.example.com, *.fleet.example.com");
    for (const host of ["iot.example.com", "a.fleet.example.com:443", "localhost"])
      expect(await code(guard.refuse(request("http://localhost:8080/", host)))).toBe("pass");
    for (const host of ["fleet.example.com", "example.com", "xiot.example.com"])
      expect(await code(guard.refuse(request("http://localhost:8080/", host)))).toBe("host_not_allowed");
  });

  test("a listener on every interface without configured names answers any well-formed name", async () => {
    const guard = createHttpGuard("0.0.0.0", undefined);
    expect(await code(guard.refuse(request("http://localhost:8080/", "iot-api.umos.svc:8080")))).toBe("pass");
    expect(await code(guard.refuse(request("http://localhost:8080/", "a@b")))).toBe("host_not_allowed");
  });
});

describe("one reading of the path", () => {
  const guard = createHttpGuard("0.0.0.0", undefined);

  test("a short Host that would make the router and URL parsing read different paths is refused", async () => {
    // The router reads /api/v1/devices from character 11 on; the URL's path is /XX/api/v1/devices.
    expect(await code(guard.refuse(request("http://a/XX/api/v1/devices", "a")))).toBe("bad_request_target");
    expect(await code(guard.refuse(request("http://a/api/v1/devices", "a")))).toBe("bad_request_target");
    expect(await code(guard.refuse(request("http://localhost:8080/api/v1/devices?x=/y", "localhost:8080")))).toBe("pass");
  });

  // Literal and encoded dot segments are resolved by Bun (and by Request) before anyone reads the path.
  test("empty segments and encoded slashes, backslashes and NULs are refused", async () => {
    for (const path of ["//api/v1/devices", "/api//v1/devices", "/api/v1/devices%2Fx", "/api/v1/devices%2fx", "/api%5Cv1", "/api/v1/devices%00"]) {
      expect(await code(guard.refuse(request(`http://localhost:8080${path}`, "localhost:8080")))).toBe("bad_request_target");
    }
  });
});
