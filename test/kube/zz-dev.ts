import { ControlPlane } from './control-plane';
void (async () => {
  const plane = await ControlPlane.start({ version: process.argv[2] ?? '1.33.13', workDir: '/tmp/devkube-' + (process.argv[2] ?? '1.33.13'), keepWorkDir: true });
  console.log(JSON.stringify(plane.cluster));
  process.on('SIGTERM', () => { plane.stop(); process.exit(0); });
  setInterval(() => undefined, 1 << 30);
})();
