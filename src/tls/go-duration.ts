import { Duration } from 'cdk8s';
import { invalid } from '../validation';

/** A whole number of hours (at least one) as a Go duration string, the form cert-manager reads. */
export function goDuration(prop: string, duration: Duration): string {
  const hours = duration.toMinutes() / 60;
  if (!Number.isInteger(hours) || hours < 1) {
    invalid(prop, 'must be a whole number of hours, at least 1', duration.toHumanString());
  }
  return `${hours}h`;
}
