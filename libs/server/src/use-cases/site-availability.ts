import { isOperatorConnected, type ChatState } from '@chat/domain';

/** Whether a visitor can start a live chat on a site now: some operator is online and connected. */
export function siteAvailability(state: ChatState, siteId: string): { online: boolean } {
  for (const op of state.operators.values()) {
    const profile = op.profile?.value;
    if (
      profile?.siteId === siteId &&
      !profile.disabled &&
      op.status?.value === 'online' &&
      isOperatorConnected(op)
    ) {
      return { online: true };
    }
  }
  return { online: false };
}
