export interface OperatorPrincipal {
  role: 'operator';
  operatorId: string;
  siteId: string;
}

export interface VisitorPrincipal {
  role: 'visitor';
  visitorId: string;
  siteId: string;
  chatId: string;
}

export type Principal = OperatorPrincipal | VisitorPrincipal;
