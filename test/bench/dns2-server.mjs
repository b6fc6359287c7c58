// The same records as the shipped zone's web.default, served by dns2's own server
// (the named library used the way its README shows), for the comparison bench.
import dns2 from 'dns2';
const { Packet } = dns2;
const server = dns2.createServer({
  udp: true,
  handle: (request, send) => {
    const response = Packet.createResponseFromRequest(request);
    const [question] = request.questions;
    if (question.name.toLowerCase() === 'web.default.linkerd.local' && question.type === Packet.TYPE.A) {
      for (const address of ['10.0.0.11', '10.0.0.12']) {
        response.answers.push({ name: question.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 5, address });
      }
    } else {
      response.header.rcode = 3;
    }
    send(response);
  },
});
server.on('listening', () => process.stdout.write(JSON.stringify({ port: server.addresses().udp.port }) + '\n'));
server.listen({ udp: { port: 0, address: '127.0.0.1' } });
