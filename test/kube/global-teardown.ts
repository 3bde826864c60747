import { rmSync } from 'fs';
import { ControlPlane } from './control-plane';
import { CONTROL_PLANES_KEY } from './global-setup';

/** Stops every control plane globalSetup started (SIGKILL by PID) and removes their files. */
export default async function globalTeardown(): Promise<void> {
  const started = (globalThis as any)[CONTROL_PLANES_KEY] as { planes: ControlPlane[]; stateDir: string } | undefined;
  if (!started) return;
  started.planes.forEach((plane) => plane.stop());
  started.planes.length = 0;
  if (process.env.E2E_KEEP_WORKDIR !== '1') rmSync(started.stateDir, { recursive: true, force: true });
  delete (globalThis as any)[CONTROL_PLANES_KEY];
}
