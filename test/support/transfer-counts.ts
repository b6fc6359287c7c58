/** Zone transfers a meshdns answered, by type, from its request counter (what tells IXFR from an AXFR fallback). */
export async function transferCounts(httpPort: number): Promise<{ ixfr: number; axfr: number }> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const count = (qtype: string): number =>
    text
      .split('\n')
      .filter((l) => l.startsWith('meshdns_dns_requests_total{') && l.includes(`qtype="${qtype}"`))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  return { ixfr: count('IXFR'), axfr: count('AXFR') };
}
